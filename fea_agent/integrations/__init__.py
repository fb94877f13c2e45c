"""Framework integrations: LangChain (:mod:`fea_agent.integrations.langchain`) and LlamaIndex
(:mod:`fea_agent.integrations.llama_index`). Both are thin skins over :mod:`fea_agent.agent_tools`."""
