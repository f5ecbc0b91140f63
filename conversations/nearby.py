"""Is it already reported? Before the summary, the city's open requests of the same service
near the place are offered, one short line each; the resident follows one (and gets its status
changes) or goes on to send their own.

The worker finds them (FindNearby, answered by Nearby); a service or a place that changes
afterwards is checked again, since `Draft.nearby_checked` names the pair last checked.
"""

from __future__ import annotations

from typing import Literal

from . import dates, prompts, texts
from .answers import number
from .fitting import MOST, cut
from .language import Language
from .plaintext import render
from .segments import cost
from .types import Context, Draft, FindNearby, FollowRequest, Nearby, NearbyRequest, Reply, State

OFFERED = 3  # requests offered at most
ADDRESS_ROOMS = (40, 32, 24, 16)  # characters of an address, in turn, to fit the budget
STATUS_ROOM = 16  # characters of the city's status word kept


def checked_key(service_code: str, lat: float, lon: float) -> str:
    """The name of one check: the service and the point (to about a metre)."""
    return f"{service_code}@{lat:.5f},{lon:.5f}"


def wanted(draft: Draft, context: Context) -> FindNearby | None:
    """The check to ask the worker for before the summary, or None (the city does not check
    this service, the place has no coordinates, or this pair was checked already)."""
    place = draft.place
    if place is None or place.lat is None or place.lon is None or not draft.service_code:
        return None
    if "*" in context.nearby_off or draft.service_code in context.nearby_off:
        return None
    if checked_key(draft.service_code, place.lat, place.lon) == draft.nearby_checked:
        return None
    return FindNearby(draft.service_code, place.lat, place.lon)


def answers(draft: Draft, event: Nearby) -> bool:
    """Whether the event answers the check the draft waits for."""
    return draft.nearby_wait == checked_key(event.service_code, event.lat, event.lon)


def shown(draft: Draft, context: Context, say: Language) -> int:
    """How many of the requests found the offer can show within the reply's budget, each with
    its day and status (fewer when even short addresses do not fit)."""
    requests = draft.nearby[:OFFERED]
    for count in range(len(requests), 1, -1):
        if _fits(_offer(requests[:count], context, say, ADDRESS_ROOMS[-1]), say):
            return count
    return min(len(requests), 1)


def offer(draft: Draft, context: Context, say: Language) -> Reply:
    """The requests offered as a numbered choice, sending one's own report last: each line cut
    in its address alone (the day, the status and the last option are kept whole)."""
    requests = draft.nearby[:OFFERED]
    reply = _offer(requests, context, say, ADDRESS_ROOMS[0])
    for room in ADDRESS_ROOMS:
        reply = _offer(requests, context, say, room)
        if _fits(reply, say):
            break
    return reply


def _offer(requests: list[NearbyRequest], context: Context, say: Language, room: int) -> Reply:
    lines = [_line(request, context, say, room) for request in requests]
    options = (*lines, say(texts.NEARBY_NONE))
    return Reply(say(texts.NEARBY_OFFER), options=options, expects="choice")


def _fits(reply: Reply, say: Language) -> bool:
    return cost(render(reply)) <= (prompts.LIST_BUDGET if say.english else MOST)


def _line(request: NearbyRequest, context: Context, say: Language, room: int) -> str:
    """One request: where (without the city's name; how far when the city gave no address),
    the day it was reported and its status."""
    where = request.address
    if context.city and where.casefold().endswith(f", {context.city}".casefold()):
        where = where[: -len(context.city) - 2]
    if not where and request.metres is not None:
        where = say(texts.NEARBY_AWAY).format(metres=request.metres)
    where, status = cut(where or "?", room), cut(request.status or "open", STATUS_ROOM)
    if request.opened is None:
        return say(texts.NEARBY_LINE_UNDATED).format(address=where, status=status)
    day = dates.day(request.opened, say, context.timezone or None)
    return say(texts.NEARBY_LINE).format(address=where, day=day, status=status)


def picked(text: str, requests: list[NearbyRequest]) -> NearbyRequest | Literal[False] | None:
    """The request a reply's number follows; False for the last option (send my own report);
    None when the reply is not one of the numbers offered."""
    chosen = number(text)
    if chosen is None or not 1 <= chosen <= len(requests) + 1:
        return None
    return requests[chosen - 1] if chosen <= len(requests) else False


def follow(state: State, request: NearbyRequest) -> FollowRequest:
    """The action that makes the resident a follower of the request."""
    draft = state.draft
    return FollowRequest(
        number=request.number,
        service_code=draft.service_code,
        service_name=request.service_name or draft.service_name,
        language=state.language or "en",
        status=request.status,
    )


def how(requests: list[NearbyRequest], say: Language) -> Reply:
    """How to answer the offer, when the reply was none of its numbers."""
    return Reply(say(texts.NUMBER_RANGE).format(count=len(requests[:OFFERED]) + 1))


def following(number: str, say: Language) -> Reply:
    """The resident now follows the request; nothing new is filed."""
    return Reply(say(texts.NEARBY_FOLLOWING).format(number=number))
