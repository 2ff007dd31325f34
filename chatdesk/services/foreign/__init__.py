"""Other apps' chat exports read into ``ForeignChat``s, one conversation at a time.

Each reader streams its file (``json_stream``/ijson), so a 1 GB export never sits in
memory whole: only the conversation being read does. Readers write nothing; the
services' import writes what they yield (``services/chat_import.py``).
"""
