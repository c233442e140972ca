"""Field policies: for each OpenAI request field, supported, accepted and ignored, or rejected.

Each front end keeps its fields as data (``_chat.policy``, ``_responses.policy``); the README's
compatibility tables are rendered from that data, and a test checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ._exceptions import InvalidRequestError

Support = Literal["supported", "ignored", "rejected"]


@dataclass(frozen=True)
class FieldPolicy:
    name: str
    support: Support
    note: str
    # For rejected fields: values that mean "feature off" and are accepted as no-ops.
    neutral: tuple[Any, ...] = ()


def is_neutral(policy: FieldPolicy, value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, list):
        value = tuple(value)
    return any(value == n for n in policy.neutral)


def check_fields(body: dict[str, Any], fields: dict[str, FieldPolicy]) -> None:
    """Refuse, naming it, the first rejected field that is set to more than a no-op."""
    for name, value in body.items():
        policy = fields.get(name)
        if policy and policy.support == "rejected" and not is_neutral(policy, value):
            raise InvalidRequestError(f"'{name}' is not supported: {policy.note}.", param=name,
                                      code="unsupported_parameter")


def render_table(fields: tuple[FieldPolicy, ...]) -> str:
    """A README compatibility table."""
    lines = ["| field | support | notes |", "|---|---|---|"]
    lines += [f"| `{f.name}` | {f.support} | {f.note} |" for f in fields]
    return "\n".join(lines)
