"""Install progress as curtin reports it: events, webhooks, the legacy signal."""

from .events import FAIL, FINISH, ROOT, START, SUCCESS, WARN, Event, PostedFile, stage_event
from .reporter import Reporter

__all__ = ["FAIL", "FINISH", "ROOT", "START", "SUCCESS", "WARN", "Event", "PostedFile",
           "Reporter", "stage_event"]
