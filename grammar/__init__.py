"""The Lark grammar of the .qd language, shipped as package data (qdsl.grammar)."""
