"""chatdesk.engine: runs CrewAI crews in a worker process and streams their events back.

GUI side (never imports CrewAI; a test checks it):
    protocol      the JSON-lines messages between GUI and worker, with validation
    client        WorkerClient (QObject): starts/restarts the worker, one signal per event
    providers     model settings + CHATDESK_LLM_* overrides; probe for local servers
    crews         crew folders (YAML), listing and validation
    scripting     the scripted model's reply-script format
    history       thread history trimmed to a budget
    answer_filter strips the ReAct wrapper from streamed text

Worker side (``python -m chatdesk.engine.worker``; imports CrewAI):
    worker        process main: quiet environment, stdin/stdout protocol loop
    runner        concurrent, cancellable, time-boxed runs; CrewAI event handlers
    bridge        CrewAI events -> ``step`` events
    crew_builder  per-run LLM/agents/tasks/crew; HTTP cancel interceptor
    scripted_llm  ScriptedLLM, a BaseLLM replying from a script
    errors        exceptions -> human message + ErrorKind
    outbox        the single, thread-safe writer of events

This package module imports nothing, so importing any GUI-side module stays cheap.
"""
