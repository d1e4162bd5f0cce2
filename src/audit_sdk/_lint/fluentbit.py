"""Fluent Bit configurations: the classic `.conf` format and the YAML format, and their rules."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from audit_sdk._lint.cloudwatch import CLOUDWATCH_RETENTION_DAYS
from audit_sdk._lint.common import (
    endpoint_host,
    is_false,
    is_loopback,
    is_true,
    looks_like_auth_header,
)
from audit_sdk._lint.findings import Finding
from audit_sdk._lint.nodes import ConfigError, Loc, Node, load_yaml_text

__all__ = [
    "FluentBitConfig",
    "Section",
    "is_fluentbit_yaml",
    "lint_fluentbit",
    "parse_classic",
    "parse_fluentbit_yaml",
]

_MAX_INCLUDE_DEPTH = 8


@dataclass(slots=True)
class Section:
    """One [SECTION] (or one entry of a YAML `pipeline` list); keys are lower-case."""

    kind: str  # SERVICE, INPUT, FILTER, OUTPUT, PARSER, ...
    loc: Loc
    props: list[tuple[str, str, Loc]] = field(default_factory=list)

    def get(self, key: str) -> tuple[str, Loc] | None:
        """The last value of `key` (Fluent Bit keeps the last one for single-valued keys)."""
        found = None
        for k, v, loc in self.props:
            if k == key:
                found = (v, loc)
        return found

    def value(self, key: str) -> str | None:
        got = self.get(key)
        return None if got is None else got[0]

    def values(self, key: str) -> list[tuple[str, Loc]]:
        return [(v, loc) for k, v, loc in self.props if k == key]

    def has(self, key: str) -> bool:
        value = self.value(key)
        return value is not None and value.strip() != ""

    @property
    def name(self) -> str:
        return (self.value("name") or "").strip().lower()


@dataclass(slots=True)
class FluentBitConfig:
    file: str
    sections: list[Section] = field(default_factory=list)

    def of(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]


# -- classic format -------------------------------------------------------------------------------

_SECTION = re.compile(r"^\[\s*([A-Za-z_]+)\s*\]\s*$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_classic(path: Path, _depth: int = 0, _vars: dict[str, str] | None = None,
                  _into: FluentBitConfig | None = None) -> FluentBitConfig:
    """Parse a classic Fluent Bit file, following @INCLUDE (globs allowed) and @SET."""
    variables = {} if _vars is None else _vars
    config = FluentBitConfig(str(path)) if _into is None else _into
    if _depth > _MAX_INCLUDE_DEPTH:
        raise ConfigError(f"{path}: @INCLUDE nested deeper than {_MAX_INCLUDE_DEPTH}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    current: Section | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        loc = Loc(str(path), number)
        if line.startswith("@"):
            directive, _, rest = line.partition(" ")
            directive = directive.upper()
            rest = rest.strip()
            if directive == "@INCLUDE":
                pattern = rest if os.path.isabs(rest) else str(path.parent / rest)
                matches = sorted(glob.glob(pattern))
                if not matches:
                    raise ConfigError(f"{loc}: @INCLUDE {rest}: no such file")
                for match in matches:
                    parse_classic(Path(match), _depth + 1, variables, config)
                current = None
            elif directive == "@SET":
                key, _, value = rest.partition("=")
                variables[key.strip()] = value.strip()
            else:
                raise ConfigError(f"{loc}: unknown directive {directive}")
            continue
        section = _SECTION.match(line)
        if section:
            current = Section(section.group(1).upper(), loc)
            config.sections.append(current)
            continue
        if current is None:
            raise ConfigError(f"{loc}: entry {line!r} outside of any [SECTION]")
        key, _, value = line.partition(" ")
        if not value.strip() and "\t" in key:
            key, _, value = line.partition("\t")
        current.props.append((key.strip().lower(), _substitute(value.strip(), variables), loc))
    return config


def _substitute(text: str, variables: dict[str, str]) -> str:
    return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


# -- YAML format --------------------------------------------------------------------------------

_YAML_KINDS = {"inputs": "INPUT", "filters": "FILTER", "outputs": "OUTPUT"}


def is_fluentbit_yaml(root: Node) -> bool:
    return root.is_map and (root.get("pipeline") is not None or root.get("includes") is not None)


def parse_fluentbit_yaml(root: Node, path: Path, _depth: int = 0,
                         _into: FluentBitConfig | None = None) -> FluentBitConfig:
    config = FluentBitConfig(str(path)) if _into is None else _into
    if _depth > _MAX_INCLUDE_DEPTH:
        raise ConfigError(f"{path}: includes nested deeper than {_MAX_INCLUDE_DEPTH}")
    variables: dict[str, str] = {}
    env = root.get("env")
    if env is not None and env.is_map:
        variables = {k: str(v.scalar()) for k, v in env.items() if v.scalar() is not None}
    includes = root.get("includes")
    if includes is not None:
        for item in includes.elements():
            name = str(item.scalar() or "")
            target = Path(name) if os.path.isabs(name) else path.parent / name
            try:
                text = target.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{item.loc}: include {name}: {exc.strerror or exc}") from None
            parse_fluentbit_yaml(load_yaml_text(text, str(target)), target, _depth + 1, config)
    service = root.get("service")
    if service is not None and service.is_map:
        config.sections.append(_yaml_section("SERVICE", service, variables))
    pipeline = root.get("pipeline")
    if pipeline is not None and pipeline.is_map:
        for key, kind in _YAML_KINDS.items():
            entries = pipeline.get(key)
            if entries is None:
                continue
            if not entries.is_list:
                raise ConfigError(f"{entries.at}: pipeline.{key} must be a list")
            for entry in entries.elements():
                if not entry.is_map:
                    raise ConfigError(f"{entry.loc}: each of pipeline.{key} must be a map")
                config.sections.append(_yaml_section(kind, entry, variables))
    return config


def _yaml_section(kind: str, node: Node, variables: dict[str, str]) -> Section:
    section = Section(kind, node.loc)
    for key, value in node.items():
        values = list(value.elements()) if value.is_list else [value]
        for item in values:
            if item.is_map or item.is_list:
                continue  # processors and other nested blocks: not judged here
            text = item.text() or ""
            loc = item.key_loc or item.loc
            section.props.append((key.lower(), _substitute(text, variables), loc))
    return section


# -- rules --------------------------------------------------------------------------------

_LOCAL_OUTPUTS = frozenset({"stdout", "null", "counter", "file", "flowcounter"})
_AWS_OUTPUTS = frozenset({"cloudwatch_logs", "cloudwatch", "s3", "kinesis_streams",
                          "kinesis_firehose", "firehose", "kinesis"})
_CLOUDWATCH = frozenset({"cloudwatch_logs", "cloudwatch"})
# Outputs with a Host (default 127.0.0.1) and an optional `tls on`.
_HOST_OUTPUTS = frozenset({"forward", "http", "opentelemetry", "splunk", "es", "opensearch",
                           "loki", "tcp", "syslog", "gelf", "websocket", "influxdb", "nrlogs",
                           "logdna", "vivo_exporter"})
_AUTH_KEYS = ("shared_key", "http_user", "splunk_token", "cloud_auth", "bearer_token",
              "api_key", "apikey", "license_key", "password")
_UNLIMITED_RETRY = frozenset({"no_limits", "false", "off", "unlimited"})
_INTERNAL_INPUTS = frozenset({"fluentbit_metrics", "health", "dummy"})


def _match(pattern: str, tag: str) -> bool:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, tag) is not None


class _FbLinter:
    def __init__(self, config: FluentBitConfig) -> None:
        self.config = config
        self.findings: list[Finding] = []

    def add(self, rule: str, loc: Loc, message: str) -> None:
        self.findings.append(Finding(rule, loc, message))

    def run(self) -> list[Finding]:
        inputs = self.config.of("INPUT")
        outputs = self.config.of("OUTPUT")
        if not inputs or not outputs:
            sections = self.config.sections
            where = sections[0].loc if sections else Loc(self.config.file, 1)
            self.add("no-audit-pipeline", where,
                     "no input or no output section: this configuration ships nothing")
            return self.findings
        services = self.config.of("SERVICE")
        service = services[-1] if services else None
        if service is None or not service.has("storage.path"):
            where = service.loc if service is not None else inputs[0].loc
            self.add("no-persistent-queue", where,
                     "no storage.path in the service section: buffered chunks live in memory "
                     "only and are lost on restart or crash")
        for index, section in enumerate(inputs):
            self.check_input(section, index, outputs)
        for section in outputs:
            self.check_output(section)
        return self.findings

    def check_input(self, section: Section, index: int, outputs: list[Section]) -> None:
        name = section.name
        if name in _INTERNAL_INPUTS:
            return
        storage = section.get("storage.type")
        if storage is None or storage[0].strip().lower() != "filesystem":
            self.add("no-persistent-queue", storage[1] if storage else section.loc,
                     f"input {name or '?'} does not set `storage.type filesystem`: its chunks "
                     "are buffered in memory and lost on restart, and it stops reading "
                     "(or drops) when the destination is down")
        if name == "tail" and not section.has("db"):
            self.add("tail-without-db", section.loc,
                     "tail input without `DB`: after a restart it re-reads whole files "
                     "(duplicates) or starts at their end (lines written meanwhile are lost)")
        tag = section.value("tag") or f"{name}.{index}"
        routed = False
        for output in outputs:
            for pattern, _ in output.values("match"):
                routed = routed or _match(pattern.strip(), tag)
            for regex, _ in output.values("match_regex"):
                try:
                    routed = routed or re.search(regex.strip(), tag) is not None
                except re.error:
                    routed = True  # cannot judge; Fluent Bit itself will complain
        if not routed:
            self.add("unrouted-input", section.loc,
                     f"input {name} (tag {tag!r}) is matched by no output: its records are "
                     "read and discarded")

    def check_output(self, section: Section) -> None:
        name = section.name
        if name in _LOCAL_OUTPUTS:
            return
        retry = section.get("retry_limit")
        if retry is None:
            self.add("retry-gives-up", section.loc,
                     f"output {name} has no Retry_Limit: Fluent Bit retries a failed chunk "
                     "once, then discards it; set `Retry_Limit no_limits`")
        elif retry[0].strip().lower() not in _UNLIMITED_RETRY:
            self.add("retry-gives-up", retry[1],
                     f"output {name}: Retry_Limit {retry[0]!r} discards a chunk after that "
                     "many failed attempts; set `Retry_Limit no_limits`")
        limit = section.get("storage.total_limit_size")
        if limit is not None:
            self.add("no-persistent-queue", limit[1],
                     f"output {name}: storage.total_limit_size makes Fluent Bit delete the "
                     "oldest queued chunks when the limit is reached")
        if name in _AWS_OUTPUTS:
            self.check_aws(section, name)
        elif name in _HOST_OUTPUTS or name == "kafka":
            self.check_network(section, name)

    def check_aws(self, section: Section, name: str) -> None:
        if not section.has("role_arn"):
            self.add("aws-no-role-arn", section.loc,
                     f"AWS output {name} has no role_arn: it writes with whatever "
                     "credentials the host has instead of a dedicated, least-privilege role")
        endpoint = section.get("endpoint")
        if endpoint is not None and endpoint[0].strip().lower().startswith("http://"):
            self.add("remote-exporter-no-tls", endpoint[1],
                     f"AWS output {name} uses a plain http:// endpoint")
        verify = section.get("tls.verify")
        if verify is not None and is_false(verify[0]):
            self.add("remote-exporter-no-tls", verify[1],
                     f"output {name} sets tls.verify off: the server is not authenticated")
        if name in _CLOUDWATCH:
            days = section.get("log_retention_days")
            text = "" if days is None else days[0].strip()
            if days is not None and "${" in text:
                return
            try:
                number = int(text)
            except ValueError:
                number = 0
            if number not in CLOUDWATCH_RETENTION_DAYS:
                where = days[1] if days is not None else section.loc
                self.add("cloudwatch-no-retention", where,
                         f"output {name}: log_retention_days "
                         + (f"{text!r} is not one of CloudWatch's allowed values"
                            if days is not None and number else "is not set")
                         + " (with auto_create_group on, it sets the new group's retention; "
                         "AU-11)")

    def check_network(self, section: Section, name: str) -> None:
        if name == "kafka":
            brokers = section.value("brokers") or ""
            hosts = [endpoint_host(b) for b in brokers.split(",") if b.strip()]
            if hosts and all(is_loopback(h) for h in hosts):
                return
            protocol = (section.value("rdkafka.security.protocol") or "").lower()
            if "ssl" not in protocol:
                self.add("remote-exporter-no-tls", section.loc,
                         "kafka output without rdkafka.security.protocol SSL/SASL_SSL: "
                         "records travel in clear text")
            if "sasl" not in protocol and not section.has("rdkafka.ssl.certificate.location"):
                self.add("remote-exporter-no-auth", section.loc,
                         "kafka output without SASL or a client certificate")
            return
        host = (section.value("host") or "127.0.0.1").strip()
        if is_loopback(endpoint_host(host) if "${" not in host else None):
            return
        tls = section.get("tls")
        if tls is None or not is_true(tls[0]):
            self.add("remote-exporter-no-tls", tls[1] if tls else section.loc,
                     f"output {name} sends to {host} without `tls on`: records travel in "
                     "clear text")
        verify = section.get("tls.verify")
        if verify is not None and is_false(verify[0]):
            self.add("remote-exporter-no-tls", verify[1],
                     f"output {name} sets tls.verify off: the server is not authenticated")
        if not self.has_auth(section):
            self.add("remote-exporter-no-auth", section.loc,
                     f"output {name} sends to {host} without authentication (shared_key, "
                     "http_user, an Authorization header or a client certificate)")

    def has_auth(self, section: Section) -> bool:
        if any(section.has(key) for key in _AUTH_KEYS):
            return True
        if section.has("tls.crt_file") and section.has("tls.key_file"):
            return True
        if is_true(section.value("aws_auth")):
            return True
        for header, _ in section.values("header"):
            name = header.strip().split(None, 1)[0] if header.strip() else ""
            if looks_like_auth_header(name):
                return True
        return False


def lint_fluentbit(config: FluentBitConfig) -> list[Finding]:
    return _FbLinter(config).run()
