"""MCP authorization (OAuth 2.1) for remote servers, the client side: issue 20.

- `sealing`: sign-ins at rest, sealed with --secret-key;
- `records`: what a sign-in leaves (tokens, client, the server's last challenge), per server in the store;
- `tokens`: the token endpoint (code exchange, refresh, client authentication);
- `bearer`: the token on every request of a connection, refreshed; a refusal remembered;
- `flow`: discovery, client registration, the authorization URL, the exchange.

Like `mcp_link`, it imports the SDK (its auth models and discovery helpers); nothing here imports fastapi.
"""

from webapp.oauth.bearer import BearerAuth, ServerCredentials
from webapp.oauth.flow import PendingSignIn, PreRegistered, begin, client_metadata, finish
from webapp.oauth.records import Challenge, SignInRecord, SignIns
from webapp.oauth.sealing import Sealer
from webapp.oauth.tokens import SignInError

__all__ = [
    "BearerAuth",
    "Challenge",
    "PendingSignIn",
    "PreRegistered",
    "Sealer",
    "ServerCredentials",
    "SignInError",
    "SignInRecord",
    "SignIns",
    "begin",
    "client_metadata",
    "finish",
]
