"""The WeChat Official Account: the callback view, the conversation and the wire format."""
