"""AWS X-Ray GetServiceGraph: the edges between services that traces observed.

``GetServiceGraph`` returns ``Services`` (each with ``ReferenceId``, ``Name`` and ``Edges`` whose
``ReferenceId`` points at the callee), paged by ``NextToken``; StartTime/EndTime are datetimes.
https://docs.aws.amazon.com/xray/latest/api/API_GetServiceGraph.html
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from tools.aws.errors import aws_call
from tools.aws.session import Location
from tools.models import to_utc

SERVICE = "X-Ray"


class XRayServiceGraph:
    """The X-Ray service graph of one account and Region.

    Raises:
        AccessDeniedError, ThrottledError, CredentialsError, AwsError: see tools.aws.errors.
    """

    def __init__(self, client: Any, *, location: Location | None = None) -> None:
        self.client = client
        self.location = location or Location()

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        return aws_call(
            method,
            service=SERVICE,
            operation="GetServiceGraph",
            account=self.location.account,
            region=self.location.region,
            **kwargs,
        )

    def edges(self, start: datetime, end: datetime) -> list[tuple[str, str]]:
        """Observed calls as sorted, unique ``(caller service name, callee service name)``."""
        names: dict[int, str] = {}
        raw: list[tuple[int, int]] = []
        token: str | None = None
        while True:
            page = self._call(
                self.client.get_service_graph,
                StartTime=to_utc(start),
                EndTime=to_utc(end),
                **({"NextToken": token} if token else {}),
            )
            for service in page.get("Services", []):
                ref = service.get("ReferenceId")
                if ref is None:
                    continue
                names[ref] = str(service.get("Name") or ref)
                raw += [
                    (ref, e["ReferenceId"]) for e in service.get("Edges", []) if "ReferenceId" in e
                ]
            token = page.get("NextToken")
            if not token:
                break
        return sorted({(names[a], names[b]) for a, b in raw if a in names and b in names})
