"""The service's automatic answers to keywords, in the language the keyword came in.

Each is one short text (carriers expect an answer to STOP and HELP, and only one). They name the
clinic and how to reach it, never anything about the person's care.
"""

from __future__ import annotations

from intake_service.config import Settings
from intake_service.domain.compliance.keywords import Keyword, Match

ANSWERS = {
    (Keyword.OPT_OUT, "en"): (
        "stop_confirmation",
        "{clinic}: you are unsubscribed and will get no more texts from us. "
        "Reply START to resubscribe.",
    ),
    (Keyword.OPT_OUT, "es"): (
        "stop_confirmation",
        "{clinic}: ya no le enviaremos mensajes de texto. Responda START para volver a recibirlos.",
    ),
    (Keyword.OPT_IN, "en"): (
        "start_confirmation",
        "{clinic}: you will get texts from us again. Reply STOP to opt out, HELP for help.",
    ),
    (Keyword.HELP, "en"): (
        "help",
        "{clinic}: call us at {phone}. Reply STOP to opt out. "
        "In crisis, call or text 988; in an emergency, 911.",
    ),
    (Keyword.HELP, "es"): (
        "help",
        "{clinic}: llámenos al {phone}. Responda ALTO para no recibir más mensajes. "
        "En crisis, llame al 988 y marque 2; en una emergencia, al 911.",
    ),
}


def answer(match: Match, settings: Settings) -> tuple[str, str]:
    """(answer key, text) for a keyword; Spanish where the keyword was Spanish."""
    key, text = ANSWERS.get((match.kind, match.language)) or ANSWERS[(match.kind, "en")]
    return key, text.format(clinic=settings.clinic_name, phone=settings.clinic_phone)


CRISIS_ANSWER = (
    "{clinic}: if you are in danger now, call 911. Call or text 988 any time, day or night "
    "(en español, llame al 988 y marque 2).{call}"
)


def crisis_answer(settings: Settings, known: bool) -> tuple[str, str]:
    """(answer key, text) for a text in crisis language: 911 and 988 at once, and the promise
    of a call only to a lead. A number no lead gave pages on-call too, but it may be anyone's
    (a wrong number, a stranger's phone): whoever is paged decides how to answer it.
    """
    call = " A clinician will call you soon." if known else ""
    return "crisis", CRISIS_ANSWER.format(clinic=settings.clinic_name, call=call)
