"""The words the owner reads, in Korean and English: one catalogue per language.

``en.json`` and ``ko.json`` beside this module map a key (``"live.connecting"``) to a
message; a message names its parameters in braces (``"{cam} is not recording"``, the one
grammar :data:`PLACEHOLDER` declares).  The server renders messages with :func:`text`; the
page gets its language's catalogue inside the served HTML and renders with the same grammar.
:func:`choose` picks the language of a request.
"""
from common.i18n.catalogue import DEFAULT, DETAIL, LANGUAGES, PLACEHOLDER, Said, Term, catalogue, placeholders, text
from common.i18n.choice import COOKIE, choose

__all__ = ["COOKIE", "DEFAULT", "DETAIL", "LANGUAGES", "PLACEHOLDER", "Said", "Term", "catalogue", "choose",
           "placeholders", "text"]
