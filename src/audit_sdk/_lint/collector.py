"""Rules for OpenTelemetry Collector configurations (after overlays are merged)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from audit_sdk._lint.cloudwatch import CLOUDWATCH_RETENTION_DAYS
from audit_sdk._lint.common import (
    MANDATORY_ATTRIBUTES,
    endpoint_host,
    is_false,
    is_loopback,
    is_true,
    looks_like_auth_header,
)
from audit_sdk._lint.findings import Finding
from audit_sdk._lint.nodes import Loc, Node, has_unresolved_env

__all__ = ["is_collector_config", "lint_collector"]

_SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")

# Exporters that write locally and are not an audit store.
_NON_STORE = frozenset({"debug", "logging", "nop"})
_FILE = "file"
_AWS = frozenset({"awss3", "awscloudwatchlogs", "awskinesis"})
# Network exporters that send in clear text unless a TLS block says otherwise.
_PLAINTEXT_BY_DEFAULT = frozenset({"kafka"})
# Keys that, set to a non-empty value, are an exporter's credentials.
_AUTH_KEYS = frozenset({
    "authenticator", "api_key", "apikey", "token", "password", "sasl", "bearer_token",
    "access_token", "client_secret", "private_key", "credentials_file", "key_file",
})
_ZERO_DURATION = re.compile(r"^0+(\.0+)?(ns|us|µs|ms|s|m|h)?$")


def is_collector_config(root: Node) -> bool:
    if not root.is_map:
        return False
    service = root.get("service")
    return any(root.get(key) is not None for key in _SECTIONS) or (
        service is not None and service.get("pipelines") is not None)


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _text(node: Node | None) -> str | None:
    return None if node is None else node.text()


def _set(node: Node | None) -> bool:
    """A value that is present and not empty (an unresolved ${env:X} counts as set)."""
    text = _text(node)
    return text is not None and text.strip() != ""


@dataclass(slots=True)
class _Pipeline:
    pid: str
    node: Node
    receivers: list[tuple[str, Node]]
    processors: list[tuple[str, Node]]
    exporters: list[tuple[str, Node]]


def _ids(node: Node | None) -> list[tuple[str, Node]]:
    if node is None or not node.is_list:
        return []
    return [(str(item.scalar()), item) for item in node.elements() if item.scalar() is not None]


class _Linter:
    def __init__(self, root: Node) -> None:
        self.root = root
        self.findings: list[Finding] = []
        self.defined: dict[str, dict[str, Node]] = {}
        for section in _SECTIONS:
            node = root.get(section)
            self.defined[section] = dict(node.items()) if node is not None and node.is_map else {}
        service = root.get("service")
        self.service = service if service is not None and service.is_map else Node({}, root.loc)
        self.enabled_extensions = {name for name, _ in _ids(self.service.get("extensions"))}
        self.pipelines: list[_Pipeline] = []
        pipelines = self.service.get("pipelines")
        if pipelines is not None and pipelines.is_map:
            for pid, node in pipelines.items():
                if _type(pid) != "logs":
                    continue
                self.pipelines.append(_Pipeline(
                    pid, node, _ids(node.get("receivers")), _ids(node.get("processors")),
                    _ids(node.get("exporters")),
                ))

    def add(self, rule: str, loc: Loc, message: str) -> None:
        self.findings.append(Finding(rule, loc, message))

    def is_connector(self, cid: str) -> bool:
        return cid in self.defined["connectors"]

    # -- the checks -----------------------------------------------------------

    def run(self) -> list[Finding]:
        if not self.pipelines:
            where = self.service.get("pipelines") or self.service
            self.add("no-audit-pipeline", where.at,
                     "no logs pipeline under service.pipelines: nothing carries audit records")
            return self.findings
        self.check_components()
        used: dict[str, Node] = {}
        for pipeline in self.pipelines:
            self.check_batch(pipeline)
            for eid, _ in pipeline.exporters:
                node = self.defined["exporters"].get(eid)
                if node is not None:
                    used.setdefault(eid, node)
        for eid, node in used.items():
            self.check_exporter(eid, node)
        for pipeline in self.pipelines:
            self.check_compliance(pipeline)
        return self.findings

    def check_components(self) -> None:
        for pipeline in self.pipelines:
            kinds = (
                ("receivers", pipeline.receivers, ("receivers", "connectors")),
                ("processors", pipeline.processors, ("processors",)),
                ("exporters", pipeline.exporters, ("exporters", "connectors")),
            )
            for label, entries, sections in kinds:
                for cid, node in entries:
                    if not any(cid in self.defined[s] for s in sections):
                        self.add("unknown-component", node.loc,
                                 f"pipeline {pipeline.pid} lists {label[:-1]} {cid!r}, which is "
                                 f"not defined under {' or '.join(sections)}: the collector "
                                 "will not start")

    def check_batch(self, pipeline: _Pipeline) -> None:
        for pid, node in pipeline.processors:
            if _type(pid) == "batch":
                self.add("batch-before-audit-exporter", node.loc,
                         f"pipeline {pipeline.pid} runs the batch processor {pid!r}: it "
                         "acknowledges records to the sender and holds them in memory, so a "
                         "crash or kill loses them; remove it (exporters batch by themselves)")

    # -- exporters --------------------------------------------------------------

    def check_exporter(self, eid: str, node: Node) -> None:
        kind = _type(eid)
        if kind in _NON_STORE:
            return
        if kind == _FILE:
            self.check_file(eid, node)
            return
        self.check_queue(eid, node)
        self.check_retry(eid, node)
        if kind in _AWS:
            self.check_aws(eid, node, kind)
        else:
            self.check_transport(eid, node, kind)

    def check_file(self, eid: str, node: Node) -> None:
        append = is_true(_text(node.get("append")))
        rotation = node.get("rotation")
        has_rotation = rotation is not None and rotation.value is not None
        if append and has_rotation:
            at = node.get("append") or node
            self.add("file-exporter-append-with-rotation", at.at,
                     f"file exporter {eid!r} sets both `append: true` and `rotation`: the "
                     "collector refuses this combination and will not start")
        elif not append and not has_rotation:
            self.add("file-exporter-truncates", node.at,
                     f"file exporter {eid!r} has neither `append: true` nor `rotation`: it "
                     "truncates its file every time the collector starts, erasing the trail")
        for key in ("format", "encoding", "compression"):
            option = node.get(key)
            text = (_text(option) or "").strip().lower()
            if option is None or text in {"", "json"} or (key == "compression" and text == "none"):
                continue
            self.add("file-exporter-not-json", option.at,
                     f"file exporter {eid!r} sets {key}: {_text(option)}: verifiers read plain "
                     "OTLP-JSON, one resourceLogs object per line (SPEC §5)")

    def check_queue(self, eid: str, node: Node) -> None:
        queue = node.get("sending_queue")
        if queue is None or queue.value is None:
            self.add("no-persistent-queue", node.at,
                     f"exporter {eid!r} has no sending_queue with `storage`: its default "
                     "queue is in memory, so records waiting for the destination are lost "
                     "on restart; add `sending_queue: {storage: file_storage}`")
            return
        enabled = queue.get("enabled")
        if enabled is not None and is_false(_text(enabled)):
            self.add("no-persistent-queue", enabled.at,
                     f"exporter {eid!r} disables its sending_queue: a slow or unreachable "
                     "destination then blocks or fails the pipeline")
            return
        storage = queue.get("storage")
        if not _set(storage):
            self.add("no-persistent-queue", queue.at,
                     f"exporter {eid!r}: sending_queue has no `storage`, so it is kept in "
                     "memory and lost on restart; set `storage: file_storage`")
            return
        assert storage is not None
        sid = str(_text(storage))
        if has_unresolved_env(sid):
            return
        if sid not in self.defined["extensions"]:
            self.add("no-persistent-queue", storage.at,
                     f"exporter {eid!r}: sending_queue storage {sid!r} is not defined "
                     "under extensions")
        elif sid not in self.enabled_extensions:
            self.add("no-persistent-queue", storage.at,
                     f"exporter {eid!r}: sending_queue storage {sid!r} is not enabled in "
                     "service.extensions")

    def check_retry(self, eid: str, node: Node) -> None:
        retry = node.get("retry_on_failure")
        if retry is None or retry.value is None:
            self.add("retry-gives-up", node.at,
                     f"exporter {eid!r} has no retry_on_failure: the default gives up after "
                     "max_elapsed_time 300s and drops the records; set max_elapsed_time: 0")
            return
        enabled = retry.get("enabled")
        if enabled is not None and is_false(_text(enabled)):
            self.add("retry-gives-up", enabled.at,
                     f"exporter {eid!r} disables retry_on_failure: a failed export is dropped")
            return
        elapsed = retry.get("max_elapsed_time")
        if elapsed is None:
            self.add("retry-gives-up", retry.at,
                     f"exporter {eid!r}: retry_on_failure has no max_elapsed_time, so the "
                     "default 300s applies and records are dropped after it; set it to 0")
            return
        text = (_text(elapsed) or "").strip()
        if has_unresolved_env(text):
            return
        if not _ZERO_DURATION.match(text):
            self.add("retry-gives-up", elapsed.at,
                     f"exporter {eid!r}: max_elapsed_time {text!r} gives up and drops the "
                     "records after that time; 0 retries until the destination is back")

    def check_aws(self, eid: str, node: Node, kind: str) -> None:
        arns = list(_find_keys(node, "role_arn"))
        if not any(_set(found) for found in arns):
            where = arns[0].at if arns else node.at
            detail = (f"role_arn is empty ({arns[0].scalar()!r} resolves to '')" if arns
                      else "no role_arn")
            self.add("aws-no-role-arn", where,
                     f"AWS exporter {eid!r}: {detail}: it writes with whatever credentials "
                     "the host has instead of a dedicated, least-privilege role")
        endpoint = node.get("endpoint") or node.path("s3uploader", "endpoint")
        if _set(endpoint) and (_text(endpoint) or "").lower().startswith("http://"):
            assert endpoint is not None
            self.add("remote-exporter-no-tls", endpoint.at,
                     f"AWS exporter {eid!r} uses a plain http:// endpoint")
        disable_ssl = node.path("s3uploader", "disable_ssl")
        if is_true(_text(disable_ssl)):
            assert disable_ssl is not None
            self.add("remote-exporter-no-tls", disable_ssl.at,
                     f"AWS exporter {eid!r} sets disable_ssl: records travel in clear text")
        if kind == "awscloudwatchlogs":
            self.check_cloudwatch_retention(eid, node)

    def check_cloudwatch_retention(self, eid: str, node: Node) -> None:
        retention = node.get("log_retention")
        text = (_text(retention) or "").strip()
        if retention is not None and has_unresolved_env(text):
            return
        if retention is None or text in {"", "0"}:
            self.add("cloudwatch-no-retention", (retention or node).at,
                     f"CloudWatch exporter {eid!r} sets no log_retention (days): the log "
                     "group keeps records for ever or by an unmanaged setting; set the "
                     "retention period your policy requires (AU-11)")
            return
        try:
            days = int(text)
        except ValueError:
            days = -1
        if days not in CLOUDWATCH_RETENTION_DAYS:
            self.add("cloudwatch-no-retention", retention.at,
                     f"CloudWatch exporter {eid!r}: log_retention {text!r} is not one of "
                     "CloudWatch's allowed values (1, 3, 5, 7, 14, 30, ..., 3653)")

    def check_transport(self, eid: str, node: Node, kind: str) -> None:
        endpoints: list[Node] = []
        for key in ("endpoint", "logs_endpoint"):
            value = node.get(key)
            if value is not None and _set(value):
                endpoints.append(value)
        for key in ("endpoints", "brokers"):
            listed = node.get(key)
            if listed is not None:
                endpoints.extend(listed.elements() if listed.is_list else [listed])
        hosts = [endpoint_host(_text(e) or "") for e in endpoints]
        if hosts and all(is_loopback(h) for h in hosts):
            return  # never leaves the host
        tls = node.get("tls")
        if kind == "kafka" and node.path("auth", "tls") is not None:
            tls = node.path("auth", "tls")
        for endpoint in endpoints:
            if (_text(endpoint) or "").strip().lower().startswith("http://"):
                self.add("remote-exporter-no-tls", endpoint.at,
                         f"exporter {eid!r} sends to a plain http:// endpoint: records and "
                         "credentials travel in clear text")
        if tls is not None:
            insecure = tls.get("insecure")
            if is_true(_text(insecure)):
                assert insecure is not None
                self.add("remote-exporter-no-tls", insecure.at,
                         f"exporter {eid!r} sets tls.insecure: records travel in clear text")
            skip = tls.get("insecure_skip_verify")
            if is_true(_text(skip)):
                assert skip is not None
                self.add("remote-exporter-no-tls", skip.at,
                         f"exporter {eid!r} sets tls.insecure_skip_verify: the server is not "
                         "authenticated, anyone on the path can receive the records")
        elif kind in _PLAINTEXT_BY_DEFAULT:
            self.add("remote-exporter-no-tls", node.at,
                     f"exporter {eid!r} ({kind}) has no tls block: it connects in clear text")
        if not self.has_auth(node):
            self.add("remote-exporter-no-auth", node.at,
                     f"exporter {eid!r} sends to a remote endpoint without authentication: "
                     "set auth.authenticator, an Authorization header or a client certificate")

    def has_auth(self, node: Node) -> bool:
        authenticator = node.path("auth", "authenticator")
        if _set(authenticator):
            return True
        headers = node.get("headers")
        if headers is not None and headers.is_map:
            for name, value in headers.items():
                if looks_like_auth_header(name) and _set(value):
                    return True
        tls = node.get("tls")
        if tls is not None and (
            (_set(tls.get("cert_file")) and _set(tls.get("key_file")))
            or (_set(tls.get("cert_pem")) and _set(tls.get("key_pem")))
        ):
            return True
        for key in _AUTH_KEYS - {"key_file"}:
            found = list(_find_keys(node, key))
            if any(_set(item) or (item.is_map and item.value) for item in found):
                return True
        return False

    # -- compliance split -------------------------------------------------------

    def check_compliance(self, pipeline: _Pipeline) -> None:
        stores = [eid for eid, _ in pipeline.exporters
                  if not self.is_connector(eid) and _type(eid) not in _NON_STORE]
        if not stores:
            return
        filters = [(fid, self.defined["processors"][fid]) for fid, _ in pipeline.processors
                   if _type(fid) == "filter" and fid in self.defined["processors"]]
        if not filters:
            self.add("missing-mandatory-check", pipeline.node.at,
                     f"pipeline {pipeline.pid} writes to {', '.join(stores)} without a filter "
                     "processor checking " + ", ".join(MANDATORY_ATTRIBUTES)
                     + ": records without them enter the store")
            self.add("no-quarantine-route", pipeline.node.at,
                     f"pipeline {pipeline.pid} has no filter, hence no complementary "
                     "quarantine branch for non-compliant records")
            return
        referenced: set[str] = set()
        for _, fnode in filters:
            for text in fnode.strings():
                referenced.update(a for a in MANDATORY_ATTRIBUTES if a in text)
        missing = [a for a in MANDATORY_ATTRIBUTES if a not in referenced]
        if missing:
            fnode = filters[0][1]
            self.add("missing-mandatory-check", fnode.at,
                     f"the filters of pipeline {pipeline.pid} ({', '.join(f for f, _ in filters)}) "
                     f"never check {', '.join(missing)}: records without them are not "
                     "told apart from compliant ones")
        own = set(stores)
        sources = {rid for rid, _ in pipeline.receivers}
        for other in self.pipelines:
            if other is pipeline or not sources & {rid for rid, _ in other.receivers}:
                continue
            other_filters = [fid for fid, _ in other.processors if _type(fid) == "filter"]
            other_stores = {eid for eid, _ in other.exporters
                            if not self.is_connector(eid) and _type(eid) not in _NON_STORE}
            if other_filters and other_stores - own:
                return
        self.add("no-quarantine-route", pipeline.node.at,
                 f"pipeline {pipeline.pid} filters records but no sibling pipeline (same "
                 "receivers, complementary filter, its own exporter) catches the ones it "
                 "drops: non-compliant records are silently discarded")


def _find_keys(node: Node, key: str) -> Iterator[Node]:
    if node.is_map:
        for k, v in node.items():
            if k == key:
                yield v
            yield from _find_keys(v, key)
    elif node.is_list:
        for item in node.elements():
            yield from _find_keys(item, key)


def lint_collector(root: Node) -> list[Finding]:
    """Every finding for one (merged) collector configuration."""
    return _Linter(root).run()
