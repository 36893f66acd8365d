"""The live/paper runtime: the desk process, its OMS node, strategy host and supervisor."""
