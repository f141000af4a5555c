"""Hand-written sentence rules for the CUAD categories and the topic clauses.

Each rule is a regular expression over one sentence, optionally with a second expression that must
also match and one that must not. Patterns are written with plain spaces between words; `_rx` turns
each space into "any run of whitespace", because PDF text breaks lines and doubles spaces anywhere.
Confidence is a fixed prior per rule: how often that wording meant the category on the CUAD
development contracts, roughly, not a calibrated probability.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from charmelio.contract import CuadCategory


def _rx(pattern: str, *, ignore_case: bool = True) -> re.Pattern[str]:
    return re.compile(pattern.replace(" ", r"\s+"), re.IGNORECASE if ignore_case else 0)


@dataclass(frozen=True)
class Rule:
    """`keys`: lower-case words one of which `pattern` needs; checking them first is ten times
    cheaper than running every pattern on every sentence. `after`: categories one of which must
    have matched one of the sentences just before (an exception follows the restriction it
    carves out of)."""

    category: CuadCategory
    keys: tuple[str, ...]
    pattern: re.Pattern[str]
    confidence: float
    requires: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None
    after: tuple[str, ...] = ()

    def matches(self, sentence: str, lowered: str) -> bool:
        return (
            any(key in lowered for key in self.keys)
            and self.pattern.search(sentence) is not None
            and (self.requires is None or self.requires.search(sentence) is not None)
            and (self.unless is None or self.unless.search(sentence) is None)
        )


_SECTION_REFERENCE = re.compile(r"\b\d+(?:\.\d+)+\b")
_CROSS_REFERENCE = _rx(
    r"\b(?:has|have|shall have) the (?:respective )?meanings? (?:ascribed|set forth|given|assigned"
    r"|specified|defined)"
)


def is_clause_text(sentence: str) -> bool:
    """False for headings, table-of-contents runs and "has the meaning set forth in" stubs."""
    words = sentence.split()
    if len(words) < 6 or (sentence.isupper() and len(words) < 12):
        return False
    if len(_SECTION_REFERENCE.findall(sentence)) >= 4 or "TABLE OF CONTENTS" in sentence:
        return False
    return _CROSS_REFERENCE.search(sentence) is None


_LICENSE = _rx(r"\blicen[cs]e|\bright to (?:use|reproduce|distribute|sell|market)")
_GRANT = _rx(
    r"\b(?:hereby )?grants?\b|\bis granted\b|\bshall have (?:a|an|the) [^.]{0,60}licen[cs]e"
)
_NO_GRANT = _rx(
    r"\bno (?:right or )?licen[cs]e|\bnothing\b|\bnot (?:be )?(?:deemed to )?grant"
    r"|\b(?:desires?|wish(?:es)?|intends?|seeks?|elects?) (?:not )?to (?:grant|obtain|seek)"
    r"|\bobtain (?:such |a |the )?licen"
)
_NEGATED = _rx(r"\b(?:no|not|nothing|neither|nor|none)\b")
_BREACH = _rx(r"\bbreach|\bdefault|insolven|bankrupt|\bfails? to\b|\bcure\b|material(?:ly)? ")
_DURATION = _rx(
    r"(?:\(\d+\)|\b\d+) ?(?:days?|months?|years?)\b"
    r"|warranty period\b[^.]{0,60}\b(?:commenc|end|expir|after|following)"
    # "one-year limited warranty", "a six-month warranty", "after the warranty period"
    r"|\b(?:one|two|three|four|five|six|twelve|eighteen|\d+)[- ](?:days?|months?|years?)"
    r"(?: limited)? warrant|\b(?:during|after|beyond|within) the warranty period\b"
)

# How a party ends the agreement at will: "for any reason", "without cause", "at any time",
# "upon ninety (90) days' prior written notice".
_AT_WILL = (
    r"(?:for (?:any|no) reason|without (?:cause|reason)|for convenience|at any time"
    r"|in its (?:sole )?discretion|(?:upon|on|by giving|with|after|by) (?:not less than |no less "
    r"than |at least )?[\w()\[\]*' -]{1,40} (?:days?|weeks?|months?)'?s?'? (?:prior |advance )?"
    r"(?:written )?notice)"
)
# Termination on the other side's breach or insolvency, on a change of control or force majeure,
# is termination for cause, not for convenience.
_TERMINATION_FOR_CAUSE = _rx(
    _BREACH.pattern.replace(r"\s+", " ")
    + r"|\bchange (?:of|in) control|\bforce majeure|\bif\b|\bin the event\b|\bfor cause\b"
)

CATEGORY_RULES: tuple[Rule, ...] = (
    Rule(
        "Governing Law",
        ("govern", "constru", "interpret", "enforced"),
        _rx(
            r"\b(?:governed|construed|interpreted|enforced)\b[^.]{0,120}\blaws? (?:of|in force in"
            r"|applicable in)\b|\bgoverning law\b[^.]{0,40}\b(?:shall|will|is) be\b"
            r"|\b(?:governed|construed)\b[^.]{0,160}\bgeneral obligations law\b"
        ),
        0.9,
        unless=_rx(r"\b(?:organi[sz]ed|incorporated|existing) under the laws"),
    ),
    Rule(
        "Expiration Date",
        ("term",),
        _rx(
            r"\b(?:term|agreement)\b[^.]{0,120}\b(?:shall|will) (?:commence|begin|continue|expire"
            r"|end|terminate|remain in (?:full )?(?:force|effect))\b[^.]{0,200}"
            r"(?:\b(?:19|20)\d\d\b|anniversary|\byears?\b|\bmonths?\b|perpetuity|until)"
            r"|\bterm:? [^.]{0,40}\(\d+\) (?:months|years) from"
        ),
        0.6,
        unless=_rx(r"\bsurvive|\bterminate (?:this agreement )?(?:immediately )?(?:upon|if|by)\b"),
    ),
    Rule(
        "Renewal Term",
        (
            "renew",
            "extend",
            "extension",
            "year to year",
            "month to month",
            "year-to-year",
            "month-to-month",
            "additional",
            "thereafter",
        ),
        _rx(
            r"\b(?:automatic(?:ally)?|successive) [^.]{0,60}\b(?:renew\w*|extension|extend\w*"
            r"|periods?|terms?)\b|\brenew(?:s|ed)? automatically\b|\b(?:shall|will|may) (?:be )?"
            r"(?:automatically )?(?:renew|extend)(?:ed)? (?:for|by)\b|\brenewal term of\b"
            # "the option to renew this Agreement for an additional three (3) year period"
            r"|\b(?:option|right|elect) to (?:renew|extend)\b[^.]{0,120}\b(?:additional|further"
            r"|successive|renewal|another)\b"
            # "shall continue on a year to year basis", "thereafter ... month to month"
            r"|\b(?:year|month)[- ]to[- ](?:year|month)\b"
            r"|\bthereafter\b[^.]{0,80}\b(?:continue|remain) in (?:full )?(?:force|effect)\b"
            r"[^.]{0,80}\buntil\b"
        ),
        0.6,
        requires=_rx(r"\brenew|\bextend|\bextension|\bterm\b|\bagreement\b|\bcontinue"),
        unless=_rx(
            r"\bforce majeure|\bcure\b|\barbitrat|\bdeadlines?\b|\bby (?:the )?mutual "
            r"(?:written )?agreement|\bupon mutual agreement|\bas (?:are |may be )?mutually agreed"
        ),
    ),
    Rule(
        "Notice Period to Terminate Renewal",
        ("renew",),
        _rx(
            r"\b(?:notice|notif\w*)\b[^.]{0,120}\b(?:prior to|before) (?:the )?(?:expiration|end"
            r"|expiry|renewal)|\bnon-?renewal\b"
        ),
        0.6,
    ),
    Rule(
        "Most Favored Nation",
        ("favo", "higher", "than", "lowest", "lower"),
        _rx(
            r"most favou?red (?:nation|customer|pricing)"
            r"|no less favou?rabl[ey] (?:terms|prices?|than)"
            r"|\b(?:shall|will) (?:be|not be) (?:no )?less favou?rable\b"
            r"|\btreated no less favou?rably\b|\bexceed the lowest price\b"
            r"|\bfull benefit of any (?:and all )?lower (?:prices?|terms)"
            r"|(?:charged|pay) a higher (?:fee|price)|(?:better|more favou?rable|lower) (?:terms"
            r"|prices?|pricing|fees?) than (?:those )?(?:offered|made available|provided|charged)"
        ),
        0.75,
    ),
    Rule(
        "Non-Compete",
        ("compet",),
        _rx(
            r"\bnon-?compet\w*|covenant not to compete|\bnot (?:to )?compete\b|\bnot\b[^.]{0,150}"
            r"\b(?:competing|competitive (?:products?|business\w*|with)|similar products from "
            r"competing)\b"
        ),
        0.6,
        unless=_rx(r"\bcompetitive (?:harm|bid|advantage|position|pricing|rates?)\b|\bcompetent\b"),
    ),
    Rule(
        "Exclusivity",
        ("exclusiv", "other than", "any other", "only from", "solely from"),
        _rx(
            r"(?<!non-)(?<!non)\bexclusive (?:distributor|distribution|right|license|licence"
            r"|basis|appointment|agent|agency|supplier|provider|sponsor|dealing|reseller|retail"
            r"|marketing|sales)|\bexclusively (?:from|through|via|with)\b"
            r"|\bsole and exclusive (?:right|supplier|distributor|provider|source)"
            # "grants to Licensee an exclusive, royalty-bearing license"
            r"|\bgrants?\b[^.]{0,80}\b(?:an?|the) (?:[\w-]+, )*(?<!-)(?<!non)exclusive\b"
            # "will not purchase Products ... from any person other than Cisco"
            r"|\b(?:shall|will|may|agrees?) not\b[^.]{0,100}\b(?:purchase|buy|obtain|source"
            r"|procure)\b[^.]{0,100}\bfrom (?:any )?(?:person|entity|party|third part(?:y|ies)"
            r"|other|source|supplier)s?\b[^.]{0,60}\b(?:other than|except)"
            r"|\b(?:purchase|buy|obtain|source) (?:all of )?(?:its|their) (?:\w+ )?requirements\b"
            r"[^.]{0,60}\b(?:exclusively|solely|only) from"
        ),
        0.65,
        unless=_rx(
            r"exclusive (?:jurisdiction|remedy|venue|forum|property|of)\b|\bwhereas\b"
            r"|exclusive right,? (?:but not the obligation,? |and obligation,? )?(?:to|and) "
            r"(?:prosecut|file|enforc|settle|defend|maintain|elect|bring|control|institute)"
            r"|\b(?:does|do|shall|will) not (?:grant|have|confer|create)\b[^.]{0,60}\bexclusiv"
            r"|\bmeans\b"
        ),
    ),
    Rule(
        "No-Solicit of Customers",
        ("solicit",),
        _rx(
            r"\b(?:not|no)\b[^.]{0,100}\bsolicit\w*\b[^.]{0,100}\b(?:customers?|clients?|accounts?"
            r"|subscribers?|suppliers?)\b"
        ),
        0.65,
    ),
    Rule(
        "Competitive Restriction Exception",
        ("violation", "breach", "compet", "exclusiv", "solicit", "outstanding", "percent"),
        _rx(
            r"\b(?:shall|will) not (?:be deemed to )?(?:constitute|be) a (?:violation|breach) of"
            r"|\bshall not include\b[^.]{0,120}\b(?:compet(?!en)|exclusiv)"
            r"|\bnotwithstanding the foregoing\b[^.]{0,200}\b(?:compet(?!en)|exclusiv|solicit)"
            r"|\bno more than \d+% of the outstanding"
            # "ownership of less than five percent (5%) ... of the outstanding equity securities"
            r"|\b(?:less than|no more than|not more than|or less of)\b[^.]{0,60}\b(?:percent|%)"
            r"[^.]{0,120}\b(?:outstanding|publicly[- ](?:traded|held))"
            r"|\bexceptions? to (?:the|such|its) exclusiv"
            r"|\bnothing in this agreement shall (?:be (?:construed|deemed) to )?"
            r"(?:prohibit|prevent|restrict|preclude)\b[^.]{0,120}\bcompet"
        ),
        0.45,
    ),
    Rule(
        "Competitive Restriction Exception",
        (
            "notwithstanding",
            "provided",
            "nothing",
            "foregoing",
            "above",
            "preceding",
            "shall not",
            "will not",
        ),
        # "Notwithstanding the foregoing, Licensor may sell ...", "The foregoing restrictions shall
        # not prohibit ...", "Nothing herein shall prevent ..." right after a restriction.
        _rx(
            r"^\W*(?:\(?\w{1,3}[.)] )?(?:notwithstanding\b|provided,? (?:however|further|that)\b"
            r"|nothing (?:in|contained in|herein)\b|(?:the|this|such) (?:foregoing|above|preceding)"
            r" (?:restrictions?|covenants?|obligations?|provisions?|sentence|exclusivity)\b"
            r"|(?:this|such|these) (?:section|article|paragraph|clause|covenants?|restrictions?"
            r"|exclusivity)\b[^.]{0,40}\b(?:shall|will) not\b)"
        ),
        0.45,
        requires=_rx(
            r"\bmay\b|\bpermitted\b|\bentitled\b|\bright to\b|\bfree to\b|\bnot (?:be "
            r"(?:deemed|construed) to )?(?:prohibit|prevent|restrict|preclude|apply|limit"
            r"|constitute|be (?:a )?(?:violation|breach))"
        ),
        unless=_rx(r"\bconfidential|\bdisclos|\bcourt\b|\binjunct"),
        after=("Non-Compete", "Exclusivity", "No-Solicit of Customers", "No-Solicit of Employees"),
    ),
    Rule(
        "No-Solicit of Employees",
        ("solicit", "hire", "hiring", "recruit", "employ"),
        _rx(
            r"\b(?:solicit(?:s|ing|ation)?|hire|hiring|recruit(?:s|ing)?|employ|employing)\b"
            r"[^.]{0,120}\b(?:employees?|personnel|staff|contractors?)\b"
        ),
        0.6,
        requires=_NEGATED,
    ),
    Rule(
        "Non-Disparagement",
        ("disparag", "defame", "critici"),
        _rx(r"\bdisparag\w*|\bdefame\b|publicly criticiz"),
        0.75,
        unless=_rx(r"\bproduct disparagement\b"),
    ),
    Rule(
        "Termination for Convenience",
        ("terminat", "cancel"),
        _rx(
            r"\b(?:may|can|(?:shall|will) (?:have|be entitled to)(?: the right to)?|reserves? the "
            r"right(?:,? in its (?:sole )?(?:and absolute )?discretion,?)? to|has the right to"
            r"|is entitled to|may elect to)(?: (?:also|at any time|at its (?:sole )?"
            r"option|in its (?:sole )?(?:and absolute )?discretion),?)* (?:terminate|cancel)\b"
            r"[^.]{0,150}"
            + _AT_WILL
            + r"|\bmay be (?:terminated|cancell?ed)\b[^.]{0,150}"
            + _AT_WILL
            + r"|\bterminated by (?:either|any) party\b[^.]{0,60}"
            + _AT_WILL
            + r"|\b(?:terminable|cancell?able)\b[^.]{0,60}\bat any time"
            r"|\bterminat\w*\b[^.]{0,60}\bfor convenience\b"
        ),
        0.65,
        unless=_TERMINATION_FOR_CAUSE,
    ),
    Rule(
        "Rofr/Rofo/Rofn",
        ("first", "negotiat", "match", "meet"),
        _rx(
            r"right of first (?:refusal|offer|negotiation)|first right (?:of|to) (?:refus|negotiat"
            r"|offer)|exclusive (?:good faith )?negotiations?|negotiate exclusively"
            r"|(?:match|meet) (?:the|such|any) (?:offer|terms|proposal)"
        ),
        0.75,
    ),
    Rule(
        "Change of Control",
        ("control", "merger", "consolidation", "acquisition", "reorgani", "substantially all"),
        _rx(
            r"change (?:of|in) control|\b(?:merger|consolidation|acquisition|reorgani[sz]ation)\b"
            r"[^.]{0,120}\b(?:terminate|consent|assign)|(?:sale|transfer) of (?:all or )?"
            r"substantially all of (?:its|the|such party's) (?:assets|business|stock)"
        ),
        0.65,
        unless=_rx(
            r"^\W*change (?:of|in) control\W* (?:shall )?means?\b|benefit of creditors|bankrupt"
        ),
    ),
    Rule(
        "Anti-Assignment",
        ("assign",),
        _rx(
            r"\b(?:may not|shall not|will not|cannot|neither party may|not be) [^.]{0,80}\bassign"
            r"|\bassign\w*\b[^.]{0,150}\bwithout (?:the )?(?:prior )?(?:written )?(?:consent"
            r"|approval|permission)|\bassign\w*\b[^.]{0,120}\bnull and void"
            r"|not (?:be )?assignable"
        ),
        0.75,
        requires=_rx(r"\bagreement\b|\brights?\b|\bobligations?\b|\bduties\b"),
        unless=_rx(r"\bmeanings? assigned\b|\bassigned to (?:it|them|such terms?)\b"),
    ),
    Rule(
        "Revenue/Profit Sharing",
        ("share", "percent", "%", "royalt", "commission"),
        _rx(
            r"\b(?:share|percentage|percent|%\)?) (?:of|in) (?:all |the )?(?:\w+ )?(?:gross |net )?"
            r"(?:revenues?|profits?|margins?|sales|proceeds|receipts)|\broyalt(?:y|ies)\b[^.]{0,120}"
            r"(?:\d+ ?%|\bpercent|\brate\b|\bequal to|\bcalculated|\bof (?:net|gross)|\bon (?:net"
            r"|gross|all))|\b(?:pay|paid|payable)\b[^.]{0,60}\broyalt(?:y|ies)\b"
            r"|revenue[- ]shar|profit[- ]shar|\bcommission (?:rate|of|equal)"
        ),
        0.6,
        unless=_rx(r"\broyalty[- ]?free\b"),
    ),
    Rule(
        "Price Restrictions",
        ("price", "fee", "rate"),
        _rx(
            r"\b(?:not|no) (?:\w+ ){0,3}(?:increase|raise) (?:the |its |any )?(?:prices?|fees?"
            r"|rates?)|\bprices? (?:shall|will) (?:remain )?(?:fixed|firm)\b"
            r"|\bprice (?:increases?|adjustments?) (?:shall|will|may) not\b"
        ),
        0.6,
    ),
    Rule(
        "Minimum Commitment",
        ("minimum", "not less than", "at least", "guaranteed"),
        _rx(
            r"\bminimum (?:purchase|order|quantit\w+|volume|royalt\w+|commitment|annual|fee"
            r"|guarantee|payment|number|amount|budget|spend)|\b(?:not less than|at least) "
            r"[^.]{0,40}\b(?:units|pounds|impressions|per (?:year|month|quarter|calendar))"
            r"|\bshall (?:purchase|order|spend|commit) (?:at least|a minimum|not less)"
            r"|\bguaranteed (?:minimum|number)"
        ),
        0.65,
    ),
    Rule(
        "Volume Restriction",
        ("maximum", "exceed", "up to"),
        _rx(
            r"\bmaximum (?:quantit\w+|number|volume|amount)\b|\bexceeds? the (?:maximum|forecast)"
            r"|\b(?:not|no) (?:to )?exceed\b[^.]{0,60}\b(?:units|pounds|quantit\w+|orders"
            r"|number of)"
            r"|\bup to (?:\w+ )?\(?\d+\)? (?:units|inserts|users|licenses|copies)"
        ),
        0.55,
    ),
    Rule(
        "IP Ownership Assignment",
        ("assign", "hire", "property of", "vest", "owned by", "own all"),
        _rx(
            r"\bhereby (?:irrevocably )?assigns?\b|\bagrees? to assign\b|\bworks? made for hire\b"
            r"|\bwork for hire\b|\bshall (?:be the (?:sole and )?exclusive property of|vest in"
            r"|be owned (?:solely |exclusively )?by|own all)"
        ),
        0.65,
        requires=_rx(
            r"right, title and interest|intellectual property|invention|copyright|work product"
            r"|patent|trademark|derivative works?|modifications?|improvements?"
        ),
    ),
    Rule(
        "Joint IP Ownership",
        ("joint", "co-own", "undivided"),
        _rx(
            r"\bjoint(?:ly)? own\w*|\bco-own\w*|\bjoint (?:inventions?|intellectual property"
            r"|ownership|works?)|\bundivided (?:right|interest)"
        ),
        0.7,
    ),
    Rule("License Grant", ("grant",), _GRANT, 0.7, requires=_LICENSE, unless=_NO_GRANT),
    Rule(
        "Non-Transferable License",
        ("transferable", "assignable", "sublicensable"),
        _rx(
            r"\bnon-? ?transferable|\bnot (?:be )?transferable|\bnon-?assignable|non-?sublicensable"
        ),
        0.75,
        requires=_LICENSE,
    ),
    Rule(
        "Affiliate License-Licensor",
        ("affiliates", "representative of all", "members of"),
        _rx(
            r"\b(?:itself and|behalf of) (?:its|their) affiliates\b[^.]{0,40}\bgrants?"
            r"|\b(?:its|their) affiliates,? (?:hereby )?grants?\b|\bas representative of all "
            r"other members\b[^.]{0,80}\bgrants?"
            # "grants ... a license under any patents which OntoChem or any of its Affiliates own"
            r"|\bgrants?\b[^.]{0,300}\bunder (?:any|all|the) (?:patents?|intellectual property|"
            r"know-how|technology)[^.]{0,40}\b(?:or|and) (?:any of )?(?:its|their) affiliates "
            r"(?:own|control|have)"
            r"|\bcause (?:the other members of|its affiliates|each of its affiliates)\b[^.]{0,40}"
            r"\bto grant|\bobtain from (?:your|its|their) affiliates\b"
        ),
        0.6,
        requires=_LICENSE,
    ),
    Rule(
        "Affiliate License-Licensee",
        ("affiliate", "subsidiar", "group", "related compan"),
        _rx(
            r"\bgrants?\b(?:,? and agrees to cause [^.]{0,60} to (?:hereby )?grant,?)? (?:to )?"
            r"[^.]{0,60}\b(?:and|together with) (?:the (?:other )?members of the [\w-]+ group"
            r"|(?:any of |each of )?(?:its|their) (?:affiliates|subsidiaries))\b"
            r"|\bsublicens\w*\b(?:[^.]|\.\d){0,100}\bto (?:any of |one or more of "
            r"|a current or future )?"
            r"(?:its|their|such party's|wholly[- ]owned) (?:\w+ )?(?:affiliates|subsidiar\w+)"
            r"|\bsublicens\w* to (?:its |their )?(?:affiliates|related companies|subsidiaries)"
            r"|\b(?:exercised|used|practiced|performed) by (?:or through )?[^.]{0,40}\b(?:and/or"
            r"|or|and) (?:any of )?(?:its|their) affiliates"
            r"|\bto permit (?:its|their) [^.]{0,60}\baffiliates\b[^.]{0,40}\bto use"
            r"|\b(?:licensee|licensees?) and (?:its|their) affiliates (?:shall |will )?(?:have the "
            r"right to|may) (?:use|sell|promote|practice|exploit|make)"
        ),
        0.55,
        requires=_rx(r"\blicen[cs]|\bright\b|\brights\b"),
        unless=_rx(
            r"\b(?:even|except) as to\b[^.)]{0,40}\baffiliates|\bindemnif|\bhold harmless"
            r"|\bwarrants?\b|\bnegotiate|\bchange of control"
        ),
    ),
    Rule(
        "Unlimited/All-You-Can-Eat-License",
        ("unlimited", "enterprise", "all-you-can-eat"),
        _rx(
            r"\bunlimited (?:number of )?(?:licen[cs]es?|users?|copies|use|right|client|seats?)"
            r"|\benterprise-?wide\b|\ball-you-can-eat"
            r"|\bunlimited, [^.]{0,80}licen[cs]e"
        ),
        0.65,
    ),
    Rule(
        "Irrevocable or Perpetual License",
        ("irrevocab", "perpetu"),
        _rx(r"\birrevocabl\w*|\bperpetu\w*"),
        0.65,
        requires=_rx(r"\blicen[cs]e|\bright to use"),
        unless=_rx(r"\brevocable\b(?!,? (?:non|irrev))"),
    ),
    Rule(
        "Source Code Escrow",
        ("escrow",),
        _rx(
            r"\bsource code\b[^.]{0,120}\bescrow|\bescrow\b[^.]{0,120}\bsource code"
            r"|\bescrow (?:agent|agreement|account)\b"
        ),
        0.75,
    ),
    Rule(
        "Post-Termination Services",
        ("expir", "terminat", "transition", "sell-off", "sell off", "wind"),
        _rx(
            r"\b(?:upon|after|following|on|in the event of|at) (?:the )?(?:any )?(?:such )?"
            r"(?:expiration|termination|expiry|effective date of (?:such )?termination)\b"
            r"[^.;]{0,200}\b(?:shall|will|must|may|agrees? to|is entitled to)\b[^.;]{0,40}"
            r"\b(?:continue|provide|supply|perform|support|sell|distribute|transition|wind|cooperate"
            r"|fulfill|return|destroy|deliver|transfer|assign|assist|complete|purchase|buy|remove"
            r"|cease|use)"
            r"|\b(?:for|during) (?:a period of )?(?:at least )?[\w() ]{1,30} "
            r"(?:years?|months?|days) (?:after|following|thereafter|beyond|from) (?:the )?"
            r"(?:any )?(?:expiration|termination|expiry)"
            r"|\btransition(?:-out)? (?:services|assistance|period|plan)|\btermination assistance"
            r"|\bsell[- ]off\b|\bwind[- ]down\b|\buse[- ]up period"
        ),
        0.55,
        unless=_rx(r"\bsurviv"),
    ),
    Rule(
        "Audit Rights",
        ("audit", "inspect", "examin"),
        _rx(
            r"\b(?:right|may|entitled|permit\w*|allow\w*|access)\b[^.]{0,120}\b(?:audit\w*"
            r"|inspect\w*|examin\w*)|\baudit\w*\b[^.]{0,120}\b(?:books|records|accounts)\b"
            r"|\b(?:books|records)\b[^.]{0,100}\b(?:inspect\w*|examin\w*|audit\w*)"
            r"|\bopen for inspection"
        ),
        0.7,
        unless=_rx(r"\baudited (?:financial|balance)"),
    ),
    Rule(
        "Uncapped Liability",
        ("liab",),
        _rx(
            r"\bexcept (?:for|under|in the event of|with respect to)\b[^.]{0,250}\b(?:indemnif\w*"
            r"|confidential\w*|gross negligence|willful|wilful|section)\b[^.]{0,250}\b(?:liable"
            r"|liability)|\b(?:limitations?|exclusions?) (?:of|on) liability\b[^.]{0,100}\b(?:shall"
            r"|will|does) not apply|\bexcludes? or limits? any liability"
        ),
        0.55,
    ),
    Rule(
        "Cap on Liability",
        ("liab", "exceed", "sole", "paid"),
        _rx(
            r"\bin no event (?:shall|will)\b[^.]{0,150}\b(?:liable|liability)\b"
            r"|\b(?:liability|damages)\b[^.]{0,200}\b(?:shall|will)(?:,? in any event,?)? not"
            r"(?:,? in any event,?)? exceed"
            r"|\b(?:limited to|not to exceed)\b[^.]{0,80}\b(?:amounts?|fees?) (?:actually )?paid"
            r"|\bneither party (?:shall|will) be (?:liable|entitled to recover)"
            r"|\bsole (?:and exclusive )?(?:remedy|liability|obligation)"
        ),
        0.7,
    ),
    Rule(
        "Liquidated Damages",
        ("liquidated", "fee", "payment", "charge"),
        _rx(
            r"\bliquidated damages|\b(?:termination|cancellation|break-?up|early termination) "
            r"(?:fee|payment|charge)\b"
        ),
        0.7,
    ),
    Rule(
        "Warranty Duration",
        ("warrant",),
        _rx(r"\bwarrant(?:y|ies|s)\b|\bwarranted\b"),
        0.55,
        requires=_DURATION,
        unless=_rx(
            r"\brepresents and warrants\b|\bwarrants? that (?:it|he|she|they) (?:has|have|is)"
            r"|\bindemnif|\bcures?\b"
        ),
    ),
    Rule(
        "Insurance",
        ("insur",),
        # Case-sensitive: "Insurance" is mostly part of a company name.
        _rx(
            r"\b(?:insurance|insured|insurer)\b[^.]{0,150}\b(?:maintain|carry|obtain|procure"
            r"|certificates?|polic(?:y|ies)|coverages?|additional insured|limits?)\b"
            r"|\b(?:maintain|carry|obtain|procure|provide)\b[^.]{0,80}\binsurance\b",
            ignore_case=False,
        ),
        0.7,
    ),
    Rule(
        "Covenant Not to Sue",
        ("sue", "challenge", "contest", "oppose", "assert"),
        _rx(
            r"\bcovenants? not to (?:sue|bring|assert)|\bagrees? not to (?:sue|challenge|contest"
            r"|oppose)|\b(?:not|never) (?:to )?(?:challenge|contest|oppose) (?:the )?(?:validity"
            r"|ownership|use)"
        ),
        0.7,
    ),
    Rule(
        "Third Party Beneficiary",
        ("beneficiar",),
        _rx(r"\bthird[- ]party beneficiar\w*|\bintended beneficiar\w*"),
        0.7,
        unless=_NEGATED,
    ),
)


_AFTER_WINDOW = 2


def match_rules(sentences: Sequence[str]) -> list[frozenset[str]]:
    """The categories whose rules match each of a contract's clause sentences, in order."""
    plain = [rule for rule in CATEGORY_RULES if not rule.after]
    contextual = [rule for rule in CATEGORY_RULES if rule.after]
    matched: list[frozenset[str]] = []
    for index, sentence in enumerate(sentences):
        lowered = sentence.lower()
        found = {rule.category for rule in plain if rule.matches(sentence, lowered)}
        before = set().union(*matched[max(0, index - _AFTER_WINDOW) : index])
        found.update(
            rule.category
            for rule in contextual
            if before.intersection(rule.after) and rule.matches(sentence, lowered)
        )
        matched.append(frozenset(found))
    return matched


@dataclass(frozen=True)
class TopicRule:
    """Cue phrases for one topic clause; the sentence with the highest total weight wins.

    `requires`: what the clause must say to be the clause its title names (a limitation of
    liability limits liability); `unless`: what makes a sentence another clause (an indemnity).
    A definition ('"Dispute" means ...') is never a topic's clause (`is_definition`).
    """

    label: str
    cues: tuple[tuple[re.Pattern[str], float], ...]
    threshold: float
    requires: re.Pattern[str] | None = None
    unless: re.Pattern[str] | None = None

    def admits(self, sentence: str) -> bool:
        return (
            not is_definition(sentence)
            and (self.requires is None or self.requires.search(sentence) is not None)
            and (self.unless is None or self.unless.search(sentence) is None)
        )


# '"Dispute" means ...', 'As used herein, "Losses" shall mean ...', '(b) "Arbitration" includes'.
_DEFINITION = _rx(
    r"^[^\"\u201c\u201d]{0,40}[\"\u201c][^\"\u201c\u201d]{1,80}[\"\u201d],? (?:shall )?"
    r"(?:means?|includes?|refers? to|has the meaning)\b"
)


def is_definition(sentence: str) -> bool:
    return _DEFINITION.search(sentence) is not None


TOPIC_RULES: dict[str, TopicRule] = {
    "termination": TopicRule(
        "Termination",
        (
            (_rx(r"\bmay terminate (?:this agreement|this contract)?"), 2.0),
            (_rx(r"\bterminat\w+ (?:of )?this agreement"), 1.0),
            (_rx(r"\b(?:written )?notice\b"), 0.5),
            (_rx(r"\bbreach|\bfor cause|\bwithout cause"), 0.5),
        ),
        2.0,
    ),
    "confidentiality": TopicRule(
        "Confidentiality",
        (
            (_rx(r"\bconfidential information\b|\bproprietary information\b"), 1.0),
            (_rx(r"\bnot (?:to )?(?:disclose|use)\b|\bhold in (?:strict )?confidence"), 1.5),
            (_rx(r"\bkeep (?:strictly )?confidential|\bmaintain (?:the )?confidential\w*"), 1.5),
            (_rx(r"\bconfiden\w*"), 0.5),
            (_rx(r"\bdisclos\w*"), 0.5),
        ),
        2.0,
    ),
    "indemnification": TopicRule(
        "Indemnification",
        (
            (_rx(r"\bindemnif(?:y|ies)\b"), 1.5),
            (_rx(r"\bdefend\b|\bhold (?:\w+ )?harmless"), 1.0),
            (_rx(r"\bclaims?\b|\blosses\b|\bdamages\b"), 0.5),
        ),
        2.0,
    ),
    "limitation_of_liability": TopicRule(
        "Limitation of liability",
        (
            (_rx(r"\bin no event (?:shall|will)\b[^.]{0,150}\bliab"), 2.0),
            (_rx(r"\bliabilit\w+\b[^.]{0,150}\bexceed"), 2.0),
            (_rx(r"\bconsequential|\bincidental|\bindirect|\bpunitive"), 0.5),
            (_rx(r"\blimitation of liability"), 1.0),
        ),
        2.0,
        # It limits liability ...
        requires=_rx(
            r"\bin no event (?:shall|will)\b[^.]{0,150}\bliab|\b(?:shall|will) not be liable\b"
            r"|\b(?:aggregate|total|maximum|entire|cumulative) liabilit"
            r"|\bliabilit\w*\b[^.]{0,150}\b(?:exceed|(?:be )?limited to)\b"
        ),
        # ... and does not oblige a party to indemnify (whose sentence names losses and damages).
        unless=_rx(r"\b(?:shall|will|agrees? to|hereby agrees? to) (?:indemnify|defend)\b"),
    ),
    "dispute_resolution": TopicRule(
        "Dispute resolution",
        (
            (_rx(r"\barbitrat\w*"), 2.0),
            (_rx(r"\bexclusive jurisdiction|\bsubmit\w* to the (?:exclusive )?jurisdiction"), 2.0),
            (_rx(r"\bdisputes?\b"), 1.0),
            (_rx(r"\bmediat\w*|\bcourts? (?:of|located in|in)\b|\bvenue\b"), 1.0),
        ),
        2.0,
        # It says how disputes are decided: arbitration, a court's jurisdiction, mediation.
        requires=_rx(
            r"\barbitrat|\bjurisdiction\b|\bmediat|\bcourts?\b|\bvenue\b|\bresolv\w* "
            r"(?:any|all|such)? ?disputes?\b|\bdisputes?\b[^.]{0,80}\b(?:resolv|settl|refer)"
        ),
    ),
    "payment_terms": TopicRule(
        "Payment terms",
        (
            (_rx(r"\bwithin [\w() ]{1,25} days (?:of|after|from|following)\b"), 1.0),
            (_rx(r"\binvoic\w*"), 1.0),
            (_rx(r"\bpayments?\b[^.]{0,40}\bdue\b|\bdue (?:and payable )?within\b"), 1.0),
            (
                _rx(r"\b(?:shall|will|agrees? to) pay\b|\bpayable\b|\bpayments? (?:shall|will) be"),
                1.5,
            ),
            (_rx(r"\bfees?\b|\bprice\b|\$"), 0.5),
        ),
        2.0,
    ),
    "intellectual_property": TopicRule(
        "Intellectual property",
        (
            (_rx(r"\bintellectual property\b"), 1.5),
            (_rx(r"right, title and interest"), 1.5),
            (_rx(r"\b(?:own|owned|ownership|property of|retain\w*|vest\w*|assign\w*)\b"), 1.0),
            (_rx(r"\bpatents?\b|\bcopyrights?\b|\btrademarks?\b|\btrade secrets?\b"), 0.5),
        ),
        2.5,
    ),
}
