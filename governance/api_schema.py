"""The OpenAPI schema's error responses (a drf-spectacular postprocessing hook, SPECTACULAR_SETTINGS).

Every operation documents the errors it can answer, each with the project's error body (governance.api_errors:
`{"detail": "..."}` from DRF, `{"<field>" | "non_field_errors": ["..."]}` from validation and domain errors):
- 400 where the request carries input (a body, query parameters) or the operation writes (a domain rule);
- 401 (with `WWW-Authenticate`) and 403 (a role or a rule refuses) where the operation needs authentication;
- 404 where the path names an object or the list pages (a page past the end);
- 409 where the operation writes (the object's state forbids it: governance.errors.InvalidState);
- 415 where it takes a body (a content type it cannot parse);
- 429 everywhere (throttled, with `Retry-After`; the log-in endpoint counts failed log-ins).
An operation that documents one of these itself keeps its own. Free-text strings of requests get the pattern of
what DRF accepts (no NUL; not blank once trimmed where a value is required).
"""

from __future__ import annotations

WRITES = {"post", "put", "patch", "delete"}

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error: `detail` (a message), or the inputs at fault, each with its messages "
                   "(`non_field_errors` for the request as a whole).",
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Invalid input: the body or a parameter, named with its messages.",
    "401": "Not authenticated: no or invalid credentials (session cookie or `Authorization: Token <key>`).",
    "403": "Authenticated, but a role, the step-up or a rule of the workflow refuses it.",
    "404": "No such object (or a page past the end of a list).",
    "409": "The object's current state does not allow it.",
    "415": "The request body's content type is not accepted.",
    "429": "Too many requests: wait `Retry-After` seconds.",
}


# What DRF's CharField accepts, said in the schema so that a client (or a fuzzer) knows it: never a NUL character,
# and, where a value is required (minLength 1), something besides white space once trimmed (str.strip's white space
# is regex \s plus U+001C to U+001F).
NO_NUL = "^[^\\x00]*$"
NOT_BLANK = "^[^\\x00]*[^\\s\\x00\\x1c-\\x1f][^\\x00]*$"


def _constrain_strings(schema) -> None:
    """Give every free-text string of a request schema the pattern of what DRF accepts (NO_NUL, NOT_BLANK)."""
    if isinstance(schema, list):
        for item in schema:
            _constrain_strings(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not ({"format", "enum", "pattern"} & schema.keys()) and not schema.get(
            "readOnly"):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    for key, value in schema.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            for sub in value.values():
                _constrain_strings(sub)
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not", "schema"):
            _constrain_strings(value)


def _empty_means_absent(schema: dict) -> None:
    """An optional query parameter given empty (`?status=`, as a form leaves it) is absent (no filter,
    governance.api_lists; the first page; the default format): say so."""
    if schema.get("type") in ("integer", "number", "boolean") or "format" in schema:
        original = dict(schema)
        schema.clear()
        schema["anyOf"] = [original, {"type": "string", "enum": [""]}]
        return
    if schema.get("type") != "string":
        return
    schema.pop("minLength", None)
    if "enum" in schema and "" not in schema["enum"]:
        schema["enum"] = [*schema["enum"], ""]
    elif schema.get("pattern") == NOT_BLANK:
        schema["pattern"] = f"^$|{NOT_BLANK}"


FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


def _forms_without_null(result: dict, operation: dict) -> None:
    """A form field cannot carry JSON's null: a form body's schema is its JSON one without `nullable` (the
    `<Name>Form` component where the JSON one has nullable fields)."""
    schemas = result["components"]["schemas"]
    for media_type, media in operation.get("requestBody", {}).get("content", {}).items():
        ref = media.get("schema", {}).get("$ref", "")
        if media_type not in FORM_MEDIA or not ref:
            continue
        name = ref.rsplit("/", 1)[1]
        properties = schemas.get(name, {}).get("properties", {})
        if not any(p.get("nullable") for p in properties.values()):
            continue
        form_name = f"{name}Form"
        if form_name not in schemas:
            schemas[form_name] = {**schemas[name], "properties": {
                key: {k: v for k, v in value.items() if k != "nullable"} for key, value in properties.items()}}
        media["schema"] = {"$ref": f"#/components/schemas/{form_name}"}


def _statuses(path: str, method: str, operation: dict) -> list[str]:
    parameters = operation.get("parameters", [])
    query = [p for p in parameters if p.get("in") == "query"]
    body = "requestBody" in operation
    authenticated = bool(operation.get("security")) and operation["security"] != [{}]
    writes = method in WRITES
    statuses = []
    if body or query or writes:
        statuses.append("400")
    if authenticated:
        statuses += ["401", "403"]
    if "{" in path or any(p.get("name") == "page" for p in query):
        statuses.append("404")
    if writes and authenticated:
        statuses.append("409")
    if body:
        statuses.append("415")
    statuses.append("429")
    return statuses


def error_responses(result: dict, generator, request, public) -> dict:
    """Add the error responses each operation can give (module docstring), referring to one `Error` schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for name, schema in result["components"]["schemas"].items():
        if name.endswith("Request"):  # COMPONENT_SPLIT_REQUEST: the request side of each serializer
            _constrain_strings(schema)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                _constrain_strings(parameter.get("schema"))
                if parameter.get("in") == "query" and not parameter.get("required"):
                    _empty_means_absent(parameter["schema"])
            _forms_without_null(result, operation)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                if "$ref" not in media.get("schema", {}):
                    _constrain_strings(media.get("schema"))
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                if status in responses:
                    continue
                response = {"description": DESCRIPTIONS[status], "content": content}
                if status == "401":
                    response["headers"] = {"WWW-Authenticate": {
                        "description": "The scheme to authenticate with (`Token`).", "required": True,
                        "schema": {"type": "string"}}}
                elif status == "429":
                    response["headers"] = {"Retry-After": {"description": "Seconds to wait.",
                                                           "schema": {"type": "integer"}}}
                responses[status] = response
    return result
