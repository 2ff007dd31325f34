"""Documents a person attaches, turned into text the model can be told (issue 19).

Pure: no database, no Qt, no other service. ``extract`` reads a PDF, DOCX or text file
into a ``Document`` (text per place: page, paragraph or line), ``chunks`` cuts it into
pieces that know their place, ``retrieval`` finds the pieces a question needs with
SQLite's FTS5, and ``context`` builds what the model is told and which places it saw.
"""
