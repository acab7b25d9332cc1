"""Screening with reasons: priority, candidacy per service line, flags to check on the call.

A screening aid for the clinic's staff, never a diagnosis: it orders the callback list and
says why in words a clinician reads ("tried >=1 antidepressant", "possible TRD: >=2
antidepressants named"). It reads the form's answers and the free text; crisis language in
the text (domain.triage.crisis) or PHQ-9 item 9 above 0 makes the lead urgent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from intake_service.domain.triage import crisis, scales

RULES_VERSION = "2026-12.1"

PRIORITIES = ("urgent", "high", "normal", "low")
SERVICES = ("tms", "spravato", "ketamine", "psychiatry")

# Points per "yes" on the TMS self-screen. Items 1 and 3 together are the core indication
# (depression, OCD or anxiety with a failed antidepressant); 2 and 4 strengthen it; 5 means
# a referral is likely.
TMS_POINTS = {
    "struggles_with_depression_ocd_anxiety": 3,
    "has_symptoms": 1,
    "tried_antidepressants": 3,
    "tried_talk_therapy": 1,
    "doctor_suggested_tms": 2,
}
TMS_REASONS = {
    "struggles_with_depression_ocd_anxiety": "reports_depression_ocd_anxiety",
    "has_symptoms": "reports_symptoms",
    "tried_antidepressants": "tried_antidepressants",
    "tried_talk_therapy": "tried_talk_therapy",
    "doctor_suggested_tms": "clinician_suggested_tms",
}

# What each reason code means, as a clinician reads it.
REASON_LABELS = {
    "core_tms_indication": "core TMS indication: depression/OCD/anxiety, an antidepressant tried",
    "reports_depression_ocd_anxiety": "reports depression, OCD or anxiety",
    "reports_symptoms": "reports depressive symptoms",
    "tried_antidepressants": "tried >=1 antidepressant",
    "tried_talk_therapy": "tried talk therapy",
    "clinician_suggested_tms": "doctor suggested TMS",
    "no_antidepressant_trial": "no antidepressant tried yet",
    "antidepressant_named": "tried >=1 antidepressant (named in message)",
    "possible_trd": "possible TRD: >=2 antidepressants named",
    "depression": "depression mentioned",
    "ocd": "OCD",
    "anxiety": "anxiety",
    "ptsd": "PTSD",
    "chronic_pain": "chronic pain (migraine, CRPS, fibromyalgia)",
    "smoking": "wants to stop smoking",
    "doctor_suggested_spravato": "doctor suggested Spravato",
    "doctor_suggested_ketamine": "doctor suggested ketamine",
    "suicidal_thoughts": "depression with suicidal thoughts (Spravato indication; urgent)",
    "asked_for_service": "asked for this service",
    "medication_management": "wants medication management",
    "evaluation_open_to_all": "a psychiatric evaluation suits anyone",
    "phq9_depression": "PHQ-9 moderate or above",
    "gad7_anxiety": "GAD-7 moderate or above",
    "contact_form": "contact form",
    "crisis_language": "crisis language in the message",
    "phq9_item9_positive": "PHQ-9 item 9 above 0 (thoughts of death or self-harm)",
}
FLAG_LABELS = {
    "metal_implant": "metal in or near the head, or an implanted device: check before TMS",
    "seizures": "seizure history: check before TMS",
    "pregnancy": "pregnant or breastfeeding: check before ketamine or Spravato",
    "psychosis": "history of psychosis: check before ketamine or Spravato",
    "blood_pressure": "high blood pressure: check before ketamine or Spravato",
    "substance_misuse": "substance use: check before ketamine or Spravato",
    "aneurysm": "aneurysm or vascular malformation: check before ketamine or Spravato",
}
FLAG_SERVICES = {
    "metal_implant": ("tms",),
    "seizures": ("tms",),
    "pregnancy": ("ketamine", "spravato"),
    "psychosis": ("ketamine", "spravato"),
    "blood_pressure": ("ketamine", "spravato"),
    "substance_misuse": ("ketamine", "spravato"),
    "aneurysm": ("ketamine", "spravato"),
}

# Antidepressants by generic name, with brand names: two names of one drug count once.
ANTIDEPRESSANTS: dict[str, tuple[str, ...]] = {
    "sertraline": ("zoloft",),
    "fluoxetine": ("prozac", "sarafem"),
    "escitalopram": ("lexapro",),
    "citalopram": ("celexa",),
    "paroxetine": ("paxil", "pexeva"),
    "fluvoxamine": ("luvox",),
    "venlafaxine": ("effexor",),
    "desvenlafaxine": ("pristiq",),
    "duloxetine": ("cymbalta",),
    "levomilnacipran": ("fetzima",),
    "bupropion": ("wellbutrin", "aplenzin"),
    "mirtazapine": ("remeron",),
    "trazodone": ("desyrel", "oleptro"),
    "vortioxetine": ("trintellix", "brintellix"),
    "vilazodone": ("viibryd",),
    "nortriptyline": ("pamelor",),
    "amitriptyline": ("elavil",),
    "imipramine": ("tofranil",),
    "clomipramine": ("anafranil",),
    "doxepin": ("sinequan",),
    "phenelzine": ("nardil",),
    "tranylcypromine": ("parnate",),
    "selegiline": ("emsam",),
    "dextromethorphan-bupropion": ("auvelity",),
}
# One pattern per drug, compiled once: a message is searched for every name of every drug.
_ANTIDEPRESSANT_NAMES = {
    generic: re.compile(
        r"\b(?:" + "|".join(map(re.escape, (generic.split("-")[0], *brands))) + r")\b"
    )
    for generic, brands in ANTIDEPRESSANTS.items()
}
_COUNT_WORDS = {
    **{"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "dos": 2, "tres": 3},
    **dict.fromkeys(("several", "many", "multiple", "numerous", "a few", "varios"), 3),
}
_TRIED_COUNT = re.compile(
    r"\b(?:tried|taken|been on|failed|used|on)\s+(?:about\s+|over\s+|at least\s+)?"
    r"(\d+|two|three|four|five|six|several|many|multiple|numerous|a few|dos|tres|varios)\s+"
    r"(?:different\s+)?(?:anti-?depressants?|antidepresivos|ssris?|meds|medications|medicines)"
)
_TRIED_ONE = re.compile(
    r"\b(?:tried|taken|been on|failed|take|taking|on)\s+(?:an?\s+|one\s+)?"
    r"(?:anti-?depressants?|ssris?)|\bantidepresivos?\b"
)
# Free-text cues, matched on the lower-cased message. Each is a regular expression.
CONDITIONS = {
    "depression": r"\bdepress|\bmdd\b|\bdepresi",
    "ocd": r"\bocd\b|obsessive[- ]compulsive|\btoc\b",
    "anxiety": r"\banxi|\bpanic\b|\bansiedad",
    "ptsd": r"\bptsd\b|post[- ]traumatic|\btept\b",
    "chronic_pain": r"\bmigraine|\bcrps\b|chronic pain|fibromyalgia|dolor cr[oó]nico",
    "smoking": r"\b(?:quit|stop|stopping|quitting)\s+smoking|\bsmoking cessation|dejar de fumar",
    "medication_management": r"medication management|manage my (?:meds|medication)",
}


def _suggested(treatment: str) -> re.Pattern[str]:
    """ "My doctor suggested TMS", "my psychiatrist recommended that I try Spravato"."""
    return re.compile(
        r"\b(?:doctor|dr|psychiatrist|therapist|provider|pcp|physician|m[eé]dico)\b.{0,60}?"
        r"\b(?:suggest|recommend|refer|mention|told me|said)\w*\b.{0,40}?\b" + treatment
    )


SUGGESTIONS = {
    "clinician_suggested_tms": _suggested(r"tms\b"),
    "doctor_suggested_spravato": _suggested(r"(?:spravato|esketamine)"),
    "doctor_suggested_ketamine": _suggested(r"ketamine"),
}
FLAGS = {
    "metal_implant": r"\bmetal\b|\bimplant|aneurysm clip|cochlear|deep[- ]brain|\bdbs\b|"
    r"pacemaker|shrapnel|\bfragments?\b|\bplate in my (?:head|skull)|\bstents?\b|\bvns\b",
    "seizures": r"seizure|epilep|convulsion|convulsi[oó]n",
    "pregnancy": r"\bpregnan|breast-?feeding|\bnursing\b|embarazada|lactancia|amamantando",
    "psychosis": r"psychos[ie]s|psychotic|schizo|hallucinat|hearing voices|\bpsicosis",
    "blood_pressure": r"(?:high|uncontrolled) blood pressure|hypertensi|blood pressure is "
    r"(?:high|uncontrolled)|presi[oó]n (?:alta|arterial alta)|hipertensi",
    "substance_misuse": r"alcoholi|drinking problem|\baddict|\bsubstance (?:use|abuse|misuse)|"
    r"\bcocaine|\bmeth\b|methamphetamine|\bopioid|\bheroin|\bfentanyl|relapsed on|"
    r"\bsober\b|\brehab\b|\bdrogas\b|alcoholismo",
    "aneurysm": r"aneurysm|vascular malformation|\bavm\b|aneurisma",
}
# Which reasons each service line's candidacy shows, in this order.
REASON_ORDER: dict[str, tuple[str, ...]] = {
    "tms": (
        "reports_depression_ocd_anxiety", "depression", "ocd", "anxiety", "smoking",
        "tried_antidepressants", "antidepressant_named", "possible_trd",
        "clinician_suggested_tms", "phq9_depression",
    ),
    "spravato": (
        "possible_trd", "depression", "phq9_depression", "tried_antidepressants",
        "antidepressant_named", "doctor_suggested_spravato",
    ),
    "ketamine": (
        "possible_trd", "depression", "anxiety", "ptsd", "ocd", "chronic_pain",
        "phq9_depression", "gad7_anxiety", "doctor_suggested_ketamine",
    ),
    "psychiatry": ("medication_management",),
}  # fmt: skip
KETAMINE_CONDITIONS = frozenset(
    {"depression", "anxiety", "ptsd", "ocd", "phq9_depression", "gad7_anxiety",
     "reports_depression_ocd_anxiety"}
)  # fmt: skip
_FLAGS = {code: re.compile(pattern) for code, pattern in FLAGS.items()}
_CONDITIONS = {code: re.compile(pattern) for code, pattern in CONDITIONS.items()}


@dataclass(frozen=True)
class Candidacy:
    level: str  # "likely" | "possible" | "unlikely"
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Flag:
    code: str  # a key of FLAG_LABELS
    services: tuple[str, ...]
    source: str  # "answers" | "message"


@dataclass(frozen=True)
class Assessment:
    score: int | None
    priority: str
    candidacy: str | None  # TMS candidacy: "likely" | "possible" | "unlikely"
    reasons: tuple[str, ...]
    urgent: bool = False
    candidacies: dict[str, Candidacy] = field(default_factory=dict)
    flags: tuple[Flag, ...] = ()
    crisis: crisis.Detection = field(default_factory=lambda: crisis.Detection(()))


def assess(
    form: str,
    answers: dict[str, Any] | None,
    message: str | None = None,
    treatment_interest: str | None = None,
) -> Assessment:
    """Triage one submission (answers already checked by domain.answers). Pure; never raises."""
    if form in ("tms_screen", "contact") and answers:
        base = _tms(answers)
    elif form == "phq9" and answers:
        base = _phq9(answers["items"])
    elif form == "gad7" and answers:
        base = _gad7(answers["items"])
    else:
        base = Assessment(score=None, priority="normal", candidacy=None, reasons=("contact_form",))
    text = (message or "").casefold()
    detection = crisis.detect(message)
    found = _from_text(text)
    candidacies = _candidacies(form, answers, base, found, treatment_interest, detection)
    urgent = base.urgent or detection.flagged
    reasons = base.reasons
    if detection.flagged:
        reasons = ("crisis_language", *reasons)
    return Assessment(
        score=base.score,
        priority="urgent" if urgent else base.priority,
        candidacy=base.candidacy,
        reasons=reasons,
        urgent=urgent,
        candidacies=candidacies,
        flags=tuple(Flag(code, FLAG_SERVICES[code], "message") for code in _flags(text)),
        crisis=detection,
    )


def antidepressants_named(text: str) -> tuple[str, ...]:
    """Generic names of the antidepressants a message names (brand or generic), in order."""
    return tuple(generic for generic, names in _ANTIDEPRESSANT_NAMES.items() if names.search(text))


def antidepressant_trials(text: str) -> int:
    """How many antidepressants the message says were tried: named ones or a stated count."""
    named = len(antidepressants_named(text))
    counted = 0
    for match in _TRIED_COUNT.finditer(text):
        word = match[1]
        counted = max(counted, int(word) if word.isdigit() else _COUNT_WORDS[word])
    if not named and not counted and _TRIED_ONE.search(text):
        counted = 1
    return max(named, counted)


def _from_text(text: str) -> set[str]:
    found = {code for code, pattern in _CONDITIONS.items() if pattern.search(text)}
    found |= {code for code, pattern in SUGGESTIONS.items() if pattern.search(text)}
    trials = antidepressant_trials(text)
    if trials >= 1:
        found.add("antidepressant_named")
    if trials >= 2:
        found.add("possible_trd")
    return found


def _flags(text: str) -> list[str]:
    return [code for code, pattern in _FLAGS.items() if pattern.search(text)]


def _candidacies(
    form: str,
    answers: dict[str, Any] | None,
    base: Assessment,
    found: set[str],
    interest: str | None,
    detection: crisis.Detection,
) -> dict[str, Candidacy]:
    yes = {k for k, v in (answers or {}).items() if v is True} if form != "phq9" else set()
    if form == "phq9" and base.score is not None and base.score >= 10:
        found = found | {"phq9_depression", "depression"}
    if form == "gad7" and base.score is not None and base.score >= 10:
        found = found | {"gad7_anxiety", "anxiety"}
    if "struggles_with_depression_ocd_anxiety" in yes:
        found = found | {"reports_depression_ocd_anxiety"}
    if "tried_antidepressants" in yes:
        found = found | {"tried_antidepressants"}
    if "doctor_suggested_tms" in yes:
        found = found | {"clinician_suggested_tms"}
    tried = found & {"tried_antidepressants", "antidepressant_named"}
    mood = found & {"reports_depression_ocd_anxiety", "depression", "ocd", "anxiety"}
    order = REASON_ORDER
    result = {
        "tms": _level(
            likely=(mood and tried) or "clinician_suggested_tms" in found,
            possible=mood or "smoking" in found,
            reasons=_ordered(found, order["tms"]),
        ),
        "spravato": _level(
            likely="possible_trd" in found
            or "doctor_suggested_spravato" in found
            or (bool(found & {"depression", "phq9_depression"}) and detection.flagged),
            possible=bool(tried and (mood or "phq9_depression" in found)),
            reasons=_ordered(found, order["spravato"])
            + (("suicidal_thoughts",) if detection.flagged else ()),
        ),
        "ketamine": _level(
            likely=bool(found & {"possible_trd", "doctor_suggested_ketamine", "chronic_pain"}),
            possible=bool(found & KETAMINE_CONDITIONS),
            reasons=_ordered(found, order["ketamine"]),
        ),
        "psychiatry": _level(
            likely=interest == "psychiatry" or "medication_management" in found,
            possible=True,
            reasons=_ordered(found, order["psychiatry"]) or ("evaluation_open_to_all",),
        ),
    }
    for service, candidacy in result.items():
        if interest == service and "asked_for_service" not in candidacy.reasons:
            result[service] = Candidacy(candidacy.level, ("asked_for_service", *candidacy.reasons))
    return result


def _ordered(found: set[str], order: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(code for code in order if code in found)


def _level(likely: object, possible: object, reasons: tuple[str, ...]) -> Candidacy:
    level = "likely" if likely else "possible" if possible else "unlikely"
    return Candidacy(level, reasons)


def _tms(answers: dict[str, Any]) -> Assessment:
    yes = [key for key in TMS_POINTS if answers.get(key) is True]
    score = sum(TMS_POINTS[key] for key in yes)
    reasons = [TMS_REASONS[key] for key in yes]
    core = "struggles_with_depression_ocd_anxiety" in yes and "tried_antidepressants" in yes
    if core:
        candidacy, priority = "likely", "high"
        reasons.insert(0, "core_tms_indication")
    elif "struggles_with_depression_ocd_anxiety" in yes or "doctor_suggested_tms" in yes:
        candidacy, priority = "possible", "normal"
        if "tried_antidepressants" not in yes:
            reasons.append("no_antidepressant_trial")
    else:
        candidacy, priority = "unlikely", "low"
    return Assessment(score=score, priority=priority, candidacy=candidacy, reasons=tuple(reasons))


def _phq9(items: list[int]) -> Assessment:
    result = scales.score_phq9(items)
    reasons = [f"phq9_{result.band}"]
    # Item 9 (thoughts of being better off dead or of self-harm) above 0 is a safety flag,
    # whatever the total (DOMAIN.md): a person calls, now.
    if result.safety_flag:
        reasons.insert(0, "phq9_item9_positive")
        return Assessment(result.total, "urgent", None, tuple(reasons), urgent=True)
    priority = "high" if result.total >= 15 else "normal"
    return Assessment(result.total, priority, None, tuple(reasons))


def _gad7(items: list[int]) -> Assessment:
    result = scales.score_gad7(items)
    priority = "high" if result.total >= 15 else "normal"
    return Assessment(result.total, priority, None, (f"gad7_{result.band}",))


def label(code: str) -> str:
    """A reason or flag code as a clinician reads it (the code itself if unknown)."""
    if code.startswith(("phq9_", "gad7_")) and code not in REASON_LABELS:
        scale, _, band = code.partition("_")
        return f"{scale.upper().replace('PHQ9', 'PHQ-9').replace('GAD7', 'GAD-7')} {band}"
    return REASON_LABELS.get(code) or FLAG_LABELS.get(code) or code
