"""The dashboard's MCP client side: the only package that imports `mcp`.

- `targets`: the servers (a URL, or a command run per connection) and how to reach them; a URL server's
  connections carry its sign-in's bearer token (`webapp.oauth`), and a refusal reads as `SignInNeeded`;
- `tap`: every message of a job's connection seen first, in wire order, and handed to the job;
- `link`: a job's connection (call a tool, speak to its task), the probe that describes a server;
- `task_wire`: MCP Tasks on the wire, both revisions;
- `asking`: a server's questions for a person, as the SDK's elicitation callback gets them.
"""

from webapp.mcp_link.asking import Ask, Asker, Reply
from webapp.mcp_link.link import (
    PROBE_TIMEOUT,
    SESSION_GONE,
    TASK_NOT_FOUND,
    Link,
    LinkError,
    ServerDescription,
    SignInNeeded,
    ToolOutcome,
    ToolSpec,
    ask_for_level,
    describe_error,
    describe_server,
    open_link,
    open_session_link,
)
from webapp.mcp_link.tap import NotificationSink
from webapp.mcp_link.targets import (
    HttpSession,
    HttpTarget,
    HttpTransport,
    ProtocolMode,
    StdioTarget,
    Target,
    TransportName,
    scrub,
    without_password,
)
from webapp.mcp_link.task_wire import TaskProtocolError, TaskSnapshot, is_modern

__all__ = [
    "PROBE_TIMEOUT",
    "SESSION_GONE",
    "TASK_NOT_FOUND",
    "Ask",
    "Asker",
    "HttpSession",
    "HttpTarget",
    "HttpTransport",
    "Link",
    "LinkError",
    "NotificationSink",
    "ProtocolMode",
    "Reply",
    "ServerDescription",
    "SignInNeeded",
    "StdioTarget",
    "Target",
    "TaskProtocolError",
    "TaskSnapshot",
    "ToolOutcome",
    "ToolSpec",
    "TransportName",
    "ask_for_level",
    "describe_error",
    "describe_server",
    "is_modern",
    "open_link",
    "open_session_link",
    "scrub",
    "without_password",
]
