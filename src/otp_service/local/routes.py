"""The API as the program declares it: each route's method, path and the function behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from .provision import LAMBDA_ALIAS, LAMBDA_FUNCTION, STAGE, DeclaredResource, Deployment

REST_API = "aws:apigateway/restApi:RestApi"
RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
GATEWAY_RESPONSE = "aws:apigateway/response:Response"
_HEADER_PARAMETER = "gatewayresponse.header."


class UnsupportedProgramError(ValueError):
    """The program declares an API that otp-local cannot serve."""


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function as declared: its handler string and environment."""

    name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    memory_size_mb: int


@dataclass(frozen=True)
class Route:
    """One method on one resource path, proxied to a function."""

    method: str
    path: str
    function: FunctionSpec
    api_key_required: bool


@dataclass(frozen=True)
class GatewayResponseSpec:
    """A customised answer of API Gateway's own (no route, bad auth, too large, ...)."""

    status: int | None
    """None keeps the status API Gateway would have used."""
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class DeclaredApi:
    """The routes of the program's REST API and the stage that serves them."""

    stage: str
    routes: tuple[Route, ...]
    binary_media_types: tuple[str, ...]
    responses: Mapping[str, GatewayResponseSpec] = field(default_factory=dict)
    """DeclaredApi responses by type (`MISSING_AUTHENTICATION_TOKEN`, `DEFAULT_4XX`, ...)."""

    def find(self, method: str, path: str) -> Route | None:
        """The route for a request, or None (API Gateway then answers 403)."""
        for route in self.routes:
            if route.method in (method, "ANY") and path_parameters(route.path, path) is not None:
                return route
        return None


def path_parameters(template: str, path: str) -> dict[str, str] | None:
    """`{"verification_id": "vf_..."}` when `path` matches `template`, else None."""
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    if len(wanted) != len(given) or not path.startswith("/"):
        return None
    parameters = {}
    for part, value in zip(wanted, given, strict=True):
        if part.startswith("{") and part.endswith("}") and value:
            parameters[part[1:-1]] = unquote(value)
        elif part != value:
            return None
    return parameters


def declared_api_of(deployment: Deployment) -> DeclaredApi:
    """Read the one REST API's Lambda proxy routes from what the program declared."""
    apis = deployment.of_type(REST_API)
    if len(apis) != 1:
        raise UnsupportedProgramError(f"expected one REST API, the program declares {len(apis)}")
    api = apis[0]
    functions = {
        str(f.state["invokeArn"]): function_spec(f) for f in deployment.of_type(LAMBDA_FUNCTION)
    }
    # With SnapStart the API invokes an alias; locally the alias is its function.
    by_name = {spec.name: spec for spec in functions.values()}
    for alias in deployment.of_type(LAMBDA_ALIAS):
        target = by_name.get(str(alias.state["functionName"]))
        if target is not None:
            functions[str(alias.state["invokeArn"])] = target
    paths = _resource_paths(api, deployment.of_type(RESOURCE))
    methods = {
        (str(m.state["resourceId"]), str(m.state["httpMethod"])): m
        for m in deployment.of_type(METHOD)
    }
    routes = []
    for integration in deployment.of_type(INTEGRATION):
        state = integration.state
        if state.get("type") != "AWS_PROXY":
            raise UnsupportedProgramError(f"{integration.name}: only AWS_PROXY is served")
        function = functions.get(str(state.get("uri")))
        if function is None:
            raise UnsupportedProgramError(f"{integration.name}: its uri names no declared function")
        resource_id, method = str(state["resourceId"]), str(state["httpMethod"])
        declared = methods.get((resource_id, method))
        if declared is None:
            raise UnsupportedProgramError(f"{integration.name}: no method {method} declared")
        routes.append(
            Route(
                method=method,
                path=paths[resource_id],
                function=function,
                api_key_required=bool(declared.state.get("apiKeyRequired")),
            )
        )
    if not routes:
        raise UnsupportedProgramError("the program's REST API declares no routes")
    stages = deployment.of_type(STAGE)
    return DeclaredApi(
        stage=str(stages[0].state["stageName"]) if stages else "local",
        routes=tuple(sorted(routes, key=lambda r: (r.path, r.method))),
        binary_media_types=tuple(api.state.get("binaryMediaTypes") or ()),
        responses={
            str(r.state["responseType"]): _gateway_response(r)
            for r in deployment.of_type(GATEWAY_RESPONSE)
        },
    )


def _gateway_response(declared: DeclaredResource) -> GatewayResponseSpec:
    state = declared.state
    templates = state.get("responseTemplates") or {}
    body = str(templates.get("application/json", ""))
    headers = []
    for name, value in (state.get("responseParameters") or {}).items():
        literal = str(value)
        if not (name.startswith(_HEADER_PARAMETER) and literal[:1] == literal[-1:] == "'"):
            raise UnsupportedProgramError(f"{declared.name}: only static header values are served")
        headers.append((name.removeprefix(_HEADER_PARAMETER), literal[1:-1]))
    if "$" in body:
        raise UnsupportedProgramError(f"{declared.name}: mapping templates are not evaluated")
    if body:
        headers.insert(0, ("Content-Type", "application/json"))
    status = state.get("statusCode")
    return GatewayResponseSpec(int(status) if status else None, tuple(headers), body.encode())


def function_spec(declared: DeclaredResource) -> FunctionSpec:
    """A declared function's handler string, environment and memory."""
    state = declared.state
    variables = (state.get("environment") or {}).get("variables") or {}
    return FunctionSpec(
        name=str(state["name"]),
        arn=str(state["arn"]),
        handler=str(state["handler"]),
        environment={str(k): str(v) for k, v in variables.items()},
        memory_size_mb=int(state.get("memorySize") or 128),
    )


def _resource_paths(api: DeclaredResource, resources: list[DeclaredResource]) -> dict[str, str]:
    """Each API resource's ID mapped to its full path, following `parentId` up to the root."""
    root = str(api.state["rootResourceId"])
    by_id: dict[str, Mapping[str, Any]] = {r.id: r.state for r in resources}
    paths = {root: "/"}

    def path_of(resource_id: str, seen: frozenset[str] = frozenset()) -> str:
        if resource_id in paths:
            return paths[resource_id]
        if resource_id in seen or resource_id not in by_id:
            raise UnsupportedProgramError(f"API resource {resource_id} is not under the API root")
        state = by_id[resource_id]
        parent = path_of(str(state["parentId"]), seen | {resource_id})
        paths[resource_id] = f"{parent.rstrip('/')}/{state['pathPart']}"
        return paths[resource_id]

    for resource_id in by_id:
        path_of(resource_id)
    return paths
