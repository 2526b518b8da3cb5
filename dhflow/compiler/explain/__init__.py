"""The documentation of diagnostic codes and language words: one source for `dhflow explain`
and the language server's hover."""
from dhflow.compiler.explain.pages import code_page, explain_code, word_doc, words

__all__ = ["code_page", "explain_code", "word_doc", "words"]
