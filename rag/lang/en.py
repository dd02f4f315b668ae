"""English: every word list and pattern the stages rely on (question parsing, gates, sentence
splitting, verification, span answers, follow-ups, the texts the assistant writes). Code
elsewhere is language-neutral and reads these names from `Settings.language`'s module.

Nothing here may name an era, a place or a topic: dates of any century, BC/AD, and names in
any script are recognised by shape, not by lists of known values.
"""

from __future__ import annotations

import re

STEMMER = "english"  # PyStemmer algorithm name
SENTENCE_SPLITTER = "en"  # pysbd's language code

# Whole paragraphs that are web-page furniture, not content. Matched case-insensitively
# against a stripped paragraph, so a sentence that merely mentions "reply" is kept.
BOILERPLATE = re.compile(
    r"^(leave a (reply|comment)|post a comment|share this( article| post)?:?|"
    r"related( posts| articles)?:?|click to share.*|subscribe( now)?|"
    r"like this:?|loading\.{0,3}|comments?|you may also like:?)$",
    re.IGNORECASE,
)
# A possessive ending, dropped before names are compared: "Korea's" -> "Korea".
POSSESSIVE = re.compile(r"(’s|'s|’|')$")


def singular(noun: str) -> str:
    """The noun's singular stem as it begins its other forms: "troops" -> "troop"."""
    return noun[:-1] if noun.endswith("s") else noun


MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
ORDINAL_WORDS = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
                 "fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first")
NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|"
                "trillions?|dozens?|half|several")

# A point in time of any era: a month, a year (four digits, 1-3 digits with an era or after
# "in"/"of"), a decade, a century or millennium, an era marker, or a relative day.
_ERA = r"(?:BC|BCE|AD|CE|B\.C\.|A\.D\.)"
DATE = re.compile(
    rf"\b(?:{MONTHS})\b"
    rf"|\b\d{{1,4}}\s*{_ERA}(?!\w)|(?<!\w){_ERA}\s*\d{{1,4}}\b"
    r"|\b[12]\d{3}s?\b|\b\d0s\b"
    r"|\b(?:in|of|since|by|from|until|around|circa|c\.)\s+\d{3}\b"
    rf"|\b(?:\d{{1,2}}(?:st|nd|rd|th)|{ORDINAL_WORDS})[\s-]+(?:century|centuries|millennium|millennia)\b"
    r"|\b(?:yesterday|today|tomorrow|last (?:week|month|year)|next (?:week|month|year))\b",
    re.I,
)
DAY_DATE = re.compile(rf"\b(?:{MONTHS})\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{MONTHS})\b|\b\d{{4}}-\d\d-\d\d\b", re.I)
# The date phrase to copy as an answer: "November 9, 2024", "late October", "the 10th century".
DATE_SPAN = re.compile(
    rf"\b(?:(?:early|mid|late)[\s-]+)?(?:{MONTHS})(?:\s+\d{{1,2}}\b)?(?:,?\s+\d{{1,4}})?"
    rf"|\b\d{{1,4}}\s*{_ERA}(?!\w)|(?<!\w){_ERA}\s*\d{{1,4}}\b|\b[12]\d{{3}}s?\b"
    r"|(?<=\bin )\d{3}\b|(?<=\bof )\d{3}\b|(?<=\bsince )\d{3}\b|(?<=\baround )\d{3}\b"
    rf"|\b(?:\d{{1,2}}(?:st|nd|rd|th)|{ORDINAL_WORDS})[\s-]+(?:century|millennium)\b",
    re.I,
)
NUMBER = re.compile(rf"\b\d[\d,.]*\b|\b(?:{NUMBER_WORDS})\b", re.I)
# The amount to copy as an answer keeps its scale and unit: "45 million euros", "$3.2 billion", "12 per cent".
_UNIT = r"(?:euros?|dollars?|pounds?|yen|yuan|rubles?|roubles?|francs?|rupees?|per\s?cent|percent|%)"
NUMBER_SPAN = re.compile(
    rf"(?:[$€£¥]\s?)?(?:\b\d[\d,.]*\d|\b\d|\b(?:{NUMBER_WORDS})\b)"
    rf"(?:\s+(?:hundred|thousand|million|billion|trillion)\b)?(?:\s*{_UNIT}(?!\w))?",
    re.I,
)
DURATION = re.compile(rf"\b(?:\d+|{NUMBER_WORDS}|many|a few)\s+(?:years?|months?|weeks?|days?|decades?|hours?|"
                      r"minutes?|seconds?|centuries|generations?)\b|\bindefinite(?:ly)?\b|"
                      r"\b(?:for\s+)?as long as\s+\w+|\buntil\b|\bpermanent(?:ly)?\b", re.I)

# What a question asks for, by its opening words. Order matters: the first match wins.
QUESTION_TYPES = [
    ("day", re.compile(r"^\s*(?:on )?what (?:exact )?(?:date|day)\b", re.I)),
    ("date", re.compile(r"^\s*(?:when|what (?:year|month|decade|century)|in (?:what|which) (?:year|month|decade|century))\b", re.I)),
    ("duration", re.compile(r"^\s*(?:for )?how long\b", re.I)),
    ("number", re.compile(r"^\s*(?:how (?:many|much)|what (?:number|percentage|share|amount))\b", re.I)),
    ("name", re.compile(r"^\s*(?:who|whom|whose|what is the name of|which (?:person|official|leader|minister))\b", re.I)),
    ("place", re.compile(r"^\s*(?:where|in (?:what|which) (?:city|country|place|region|town))\b", re.I)),
]
# Words that put a place after them ("during his visit to Pyongyang").
PLACE_BEFORE = frozenset("in at to from near into inside outside across within".split())
# Words joining two answers of one kind into one ("late October and early November").
COORDINATORS = frozenset("and or".split())
# The noun naming what a question asks for: "What is the population of …", "What kind of
# treaty …", "How many votes …". A document that never uses it cannot give it. ("What unit …",
# "Which individuals …" are left out: such category words are the asker's, not the document's.)
FOCUS = re.compile(
    r"^\s*(?:(?:what|which)\s+(?:is|was|are|were)\s+the\s+(?:name\s+of\s+the\s+)?(?P<attr>[^\W\d_][\w-]*)\s+(?:of|for)\b"
    r"|(?:what|which)\s+(?:kind|type|sort|form)s?\s+of\s+(?P<kind>[^\W\d_][\w-]*)"
    r"|how\s+(?:many|much)\s+(?P<counted>[^\W\d_][\w-]*))",
    re.I,
)
COUNTED_NOUN = re.compile(r"how (?:many|much)\s+(\w+)", re.I)
YES_NO = re.compile(r"^\s*(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should|isn't|aren't|"
                    r"wasn't|doesn't|didn't)\b", re.I)

# Words that carry no fact of their own.
STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this "
    "that these those there their they them he she his her him we our you your i me my do does did done has "
    "have had not no yes so than then too very can could will would should may might must also just about "
    "into over under after before between what which who whom whose when where why how according article "
    "says said say whats name named called term kind type".split()
)
# The short list BM25 leaves out (Lucene's and scikit-learn's English list, as bm25s has it; the
# list above is the gates' and is longer: BM25 keeps "who", "when", "after").
BM25_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)
# Qualifiers a date may carry that a claim need not repeat ("late October" is stated by "October").
DATE_QUALIFIERS = frozenset("early mid late".split())
# English puts what happened before its date ("final approval on November 9"): the words that tie
# a date to the question are looked for before it.
EVENT_BEFORE_DATE = True
# Light and irregular verbs the stemmer cannot match to the sentence's form ("gave" / "give"):
# they carry no fact of their own, so they are not counted as words the model added.
LIGHT_VERBS = frozenset("give gave given make made take took taken get got gotten go went gone come came hold held "
                        "keep kept put set become became show shown".split())

# Questions that try to steer the assistant instead of asking about the documents.
INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|article|context|rules|"
    r"prompt|above|previous|sources?|documents?|everything)\b"
    r"|\b(?:system|hidden|initial|original)\s+(?:prompt|instructions?|message)\b"
    r"|\b(?:reveal|print|show|repeat|output|leak)\b.{0,30}\b(?:your|the)\s+(?:prompt|instructions?|rules)\b"
    r"|\byou are now\b|(?:^|[.!?]\s*|\b(?:you|please|now)\s+(?:(?:must|should|will|shall|to)\s+)?)act as\b"
    r"|\bpretend (?:to be|you)\b|\bjailbreak\b|\bdeveloper mode\b"
    r"|\bwithout (?:using|looking at|the) (?:the )?(?:article|context|sources?|documents?)\b"
    r"|\bfrom your own knowledge\b|\bmake (?:something|it) up\b",
    re.I,
)
# A model's way of saying it has no answer.
SAYS_UNANSWERABLE = re.compile(r"\b(?:not in the (?:article|text|sentences?|documents?)|does not say|doesn't say|"
                               r"no information|not mentioned|cannot answer|can't answer|unknown)\b", re.I)
# Lower-case words that may sit inside a name ("Ivan the Terrible", "Leonardo da Vinci").
NAME_CONNECTORS = frozenset("of the de da di del della van von der la le bin ibn al".split())
# Titles that stand before a name and are not part of the answer to "who".
TITLES = frozenset("president prime minister foreign defence defense secretary general leader chancellor king queen "
                   "prince princess senator governor mayor director chairman chief dr mr mrs ms sir lord lady "
                   "professor spokesman spokeswoman spokesperson ambassador".split())
# How many words on each side of a candidate answer phrase are searched for the question's words.
CONTEXT = 8

# What a copied span may lose at its edges: punctuation and a dangling conjunction.
SPAN_TRIM = re.compile(r"^[\s,;:.]+|[\s,;:.]+$|\s+(?:and|or|but)$", re.I)

# The instruction-tuned reader (rag/grounding/read.py, prompts/read*.txt): how its reply begins, for a
# phrase and for a yes/no question (whose answer is the sentence that tells), and how it declines.
READER_REPLY = "Answer:"
READER_REPLY_YES_NO = "Answer: The sentence that tells is:"
READER_NONE = "None"

ABSTAIN_ONE = "The article does not say."
ABSTAIN_MANY = "The documents do not say."
QUOTE_OPENING = "The article says:"
QUOTE = QUOTE_OPENING + " “{text}” [{id}]."

# Follow-up questions (rag/retrieval/followup.py). People are those the documents introduce with a
# title, as written ("Foreign Minister Choe Son-hui"): the case of the title is kept, unlike TITLES.
PERSON_TITLES = (r"President|Prime Minister|Minister|[Ll]eader|Chancellor|Secretary(?:-General)?"
                 r"|[Ss]pokes(?:man|woman|person)|[Aa]mbassador|General|King|Queen|Senator|Governor|Mayor|Director"
                 r"|[Cc]hairman|Chief|Dr\.|Mr\.|Mrs\.|Ms\.")
PERSON_NAME = r"[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,3}"
TITLED_PERSON = re.compile(rf"\b(?:{PERSON_TITLES})\s+({PERSON_NAME})")
PERSON_PRONOUN = re.compile(r"\b(he|him|his|she|her|hers)\b", re.I)
THING_PRONOUN = re.compile(r"\b(it|its)\b", re.I)
POSSESSIVE_PRONOUNS = frozenset("his its hers".split())
POSSESSIVE_SUFFIX = "’s"
# "What about Kim?" / "And Choe?": the previous question, asked about someone else.
ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about)\s+(.+?)\s*\??\s*$", re.I)
# A definite noun phrase to resolve "it" to; it is re-written with THE.
PHRASE = re.compile(r"\b(?:the|this|that|these|those)\s+[\w’'-]+(?:\s+[\w’'-]+){0,4}", re.I)
THE = "the"
# Words that end a noun phrase taken from a question ("the treaty | say about ...").
PHRASE_END = frozenset(
    "is are was were be been being do does did say says said mean means include includes provide provides have "
    "has had will would can could to for in on at by with from about after before and or that which who whom "
    "when where why how what if than as into against between".split()
)
