"""The answer pipeline, one module per step, run in this order by prepare.py:

1. context   - the conversation's history, as the LLM should see it
2. retrieval - the best knowledge-base passages for the question
3. prompt    - the system prompt and the request for the provider
then the provider streams (agents/providers/) and the answer job in
chat/streaming/jobs.py delivers and stores what it says.
"""
