"""Load and validate catalog YAML files; every error names the file, line and field."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import yaml

from tracker.catalog.job_terms import JOB_TERMS_KEYS, JobTerms, JobTermsError
from tracker.errors import CatalogError, CatalogErrors

__all__ = [
    "BUNDLED_CATALOG",
    "MAX_ERRORS",
    "Catalog",
    "Tool",
    "load_catalog",
    "parse_catalog_file",
]

BUNDLED_CATALOG = "tools.yaml"

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# GitHub: owner 1-39 chars of alnum/hyphen (no leading hyphen); repo: alnum, '.', '_', '-'.
_REPO_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# PEP 508 project name.
_PYPI_RE = re.compile(r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$")
_APACHE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Stack Overflow tag names: lowercase letters, digits and . # + - (at most 35 characters).
_SO_TAG_RE = re.compile(r"^[a-z0-9.#+-]{1,35}$")
_TOOL_KEYS = (
    "id",
    "name",
    "skill",
    "github",
    "pypi",
    "apache",
    "formerly",
    "stackoverflow_tags",
    "job_terms",
    "notes",
    "trackable",
)
_TOP_KEYS = ("skills", "tools")
MAX_ERRORS = 50  # `catalog validate` lists at most this many errors, then says how many more
# libyaml's parser when PyYAML has it: ten times faster on the 2,800-line bundled catalog.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Tool:
    """One tracked tool and where its public signals live."""

    id: str
    name: str
    skill: str
    github: str | None = None
    pypi: tuple[str, ...] = ()
    apache: str | None = None
    formerly: tuple[str, ...] = ()
    notes: str | None = None
    trackable: bool = True
    stackoverflow_tags: tuple[str, ...] = ()
    job_terms: JobTerms | None = None  # None: job posts are not matched for this tool
    origin: str = ""  # "file:line" the tool was defined (or last overridden) at

    @property
    def sources_hint(self) -> str:
        """Return a short description of the tool's sources, e.g. ``github, pypi(2)``."""
        parts = []
        if self.github:
            parts.append(f"github:{self.github}")
        if self.pypi:
            parts.append("pypi:" + ",".join(self.pypi))
        if self.apache:
            parts.append(f"apache:{self.apache}")
        return " ".join(parts) if parts else "-"


@dataclass(frozen=True, slots=True)
class Catalog:
    """Validated skills (id -> title) and tools, in file order."""

    skills: dict[str, str]
    tools: tuple[Tool, ...]
    files: tuple[str, ...] = field(default=())

    def get(self, tool_id: str) -> Tool | None:
        """Return the tool with ``tool_id`` or None."""
        for tool in self.tools:
            if tool.id == tool_id:
                return tool
        return None

    def by_skill(self) -> dict[str, list[Tool]]:
        """Return tools grouped by skill, skills in catalog order."""
        groups: dict[str, list[Tool]] = {skill: [] for skill in self.skills}
        for tool in self.tools:
            groups.setdefault(tool.skill, []).append(tool)
        return groups


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _scalar(node: yaml.Node, file: str, fld: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
        if isinstance(node, yaml.ScalarNode) and node.tag in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            return str(node.value)
        raise CatalogError("must be a text value", file=file, line=_line(node), field=fld)
    value = str(node.value).strip()
    if not value:
        raise CatalogError("must not be empty", file=file, line=_line(node), field=fld)
    return value


def _str_list(node: yaml.Node, file: str, fld: str) -> list[tuple[str, int]]:
    if isinstance(node, yaml.ScalarNode):
        return [(_scalar(node, file, fld), _line(node))]
    if not isinstance(node, yaml.SequenceNode):
        raise CatalogError("must be a list of text values", file=file, line=_line(node), field=fld)
    return [(_scalar(item, file, fld), _line(item)) for item in node.value]


def _bool(node: yaml.Node, file: str, fld: str) -> bool:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
        return bool(yaml.safe_load(node.value))
    raise CatalogError("must be true or false", file=file, line=_line(node), field=fld)


def _plain(node: yaml.Node, file: str, fld: str) -> object:
    """Return a job_terms value as Python (text, bool, int or a list of them), else raise."""
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, file, fld) for item in node.value]
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:bool":
            return str(node.value).lower() in ("true", "yes", "on", "y")
        if node.tag == "tag:yaml.org,2002:int":
            return int(node.value)
        if node.tag == "tag:yaml.org,2002:str":
            return str(node.value)
    raise CatalogError(
        "must be text, a list of text, true/false or a number",
        file=file,
        line=_line(node),
        field=fld,
    )


def _job_terms(node: yaml.Node, file: str, key_line: int) -> JobTerms:
    """Parse a ``job_terms`` node; errors name the sub-key's (or list item's) line."""
    lines: dict[str, int] = {}
    items: dict[str, list[int]] = {}
    if isinstance(node, yaml.SequenceNode):
        value: object = _plain(node, file, "job_terms")
        lines["terms"] = _line(node)
        items["terms"] = [_line(item) for item in node.value]
    elif isinstance(node, yaml.MappingNode):
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            fld = f"job_terms.{key}"
            if key not in JOB_TERMS_KEYS:
                raise CatalogError(
                    f"unknown key (allowed: {', '.join(JOB_TERMS_KEYS)})",
                    file=file,
                    line=_line(key_node),
                    field=fld,
                )
            if key in mapping:
                raise CatalogError("key given twice", file=file, line=_line(key_node), field=fld)
            mapping[key] = _plain(value_node, file, fld)
            lines[key] = _line(value_node)
            if isinstance(value_node, yaml.SequenceNode):
                items[key] = [_line(item) for item in value_node.value]
        value = mapping
    else:
        raise CatalogError(
            "must be a list of terms or a mapping (terms, cased, weak, ...)",
            file=file,
            line=_line(node),
            field="job_terms",
        )
    try:
        return JobTerms.from_value(value)
    except JobTermsError as exc:
        line = key_line
        fld = "job_terms"
        if exc.key is not None:
            fld = f"job_terms.{exc.key}"
            line = lines.get(exc.key, line)
            if exc.index is not None and exc.index < len(items.get(exc.key, [])):
                line = items[exc.key][exc.index]
        raise CatalogError(exc.reason, file=file, line=line, field=fld) from exc


def _so_tags(node: yaml.Node, file: str, key: str) -> tuple[str, ...]:
    tags = _str_list(node, file, key)
    for tag, tag_line in tags:
        if not _SO_TAG_RE.match(tag):
            raise CatalogError(
                f"{tag!r} is not a Stack Overflow tag (lowercase letters, digits and "
                "'.#+-', at most 35 characters)",
                file=file,
                line=tag_line,
                field=key,
            )
    names = [tag for tag, _ in tags]
    for i, tag in enumerate(names):
        if tag in names[:i]:
            raise CatalogError(f"tag {tag!r} given twice", file=file, line=tags[i][1], field=key)
    return tuple(names)


def _compose(text: str, file: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise CatalogError(f"YAML syntax error: {problem}", file=file, line=line) from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"YAML error: {exc}", file=file) from exc


class _Errors:
    """Collects every CatalogError of a file instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[CatalogError] = []

    @contextlib.contextmanager
    def collect(self) -> Iterator[None]:
        """Record a CatalogError raised in the block and go on after it."""
        try:
            yield
        except CatalogErrors as exc:
            self.items.extend(exc.errors)
        except CatalogError as exc:
            self.items.append(exc)

    def raise_if_any(self) -> None:
        """Raise CatalogErrors with every error so far, in line order."""
        if self.items:
            ordered = sorted(self.items, key=lambda e: (e.file, e.line or 0))
            self.items = []
            raise CatalogErrors(ordered)


@dataclass(slots=True)
class _RawTool:
    fields: dict[str, object]
    lines: dict[str, int]
    line: int
    bad: set[str] = field(default_factory=set)  # keys with an error already reported


def _parse_tool(node: yaml.Node, file: str, errors: _Errors) -> _RawTool:
    if not isinstance(node, yaml.MappingNode):
        raise CatalogError(
            "each tool must be a mapping", file=file, line=_line(node), field="tools"
        )
    raw = _RawTool(fields={}, lines={}, line=_line(node))
    for key_node, value_node in node.value:
        key = str(key_node.value)
        raw.bad.add(key)  # until its value is accepted below
        with errors.collect():
            if key not in _TOOL_KEYS:
                raise CatalogError(
                    f"unknown key (allowed: {', '.join(_TOOL_KEYS)})",
                    file=file,
                    line=_line(key_node),
                    field=key,
                )
            if key in raw.fields:
                raise CatalogError("key given twice", file=file, line=_line(key_node), field=key)
            raw.lines[key] = _line(value_node)
            if key in ("pypi", "formerly"):
                items = _str_list(value_node, file, key)
                pattern = _PYPI_RE if key == "pypi" else _REPO_RE
                for item, item_line in items:
                    if not pattern.match(item):
                        kind = "a PyPI project name" if key == "pypi" else "owner/repo"
                        raise CatalogError(
                            f"{item!r} is not {kind}", file=file, line=item_line, field=key
                        )
                raw.fields[key] = tuple(item for item, _ in items)
            elif key == "trackable":
                raw.fields[key] = _bool(value_node, file, key)
            elif key == "stackoverflow_tags":
                raw.fields[key] = _so_tags(value_node, file, key)
            elif key == "job_terms":
                raw.fields[key] = _job_terms(value_node, file, _line(key_node))
            else:
                value = _scalar(value_node, file, key)
                checks = {
                    "id": (_ID_RE, "lowercase letters, digits, '-' or '_'"),
                    "github": (_REPO_RE, "owner/repo"),
                    "apache": (_APACHE_RE, "an archive project name such as 'oozie'"),
                }
                if key in checks and not checks[key][0].match(value):
                    raise CatalogError(
                        f"{value!r} is not {checks[key][1]}",
                        file=file,
                        line=_line(value_node),
                        field=key,
                    )
                raw.fields[key] = value
            raw.bad.discard(key)
    return raw


def parse_catalog_file(
    text: str,
    file: str,
    *,
    known_skills: dict[str, str] | None = None,
    partial: bool = False,
    errors: _Errors | None = None,
) -> tuple[dict[str, str], list[_RawTool]]:
    """Return (skills, raw tools) of one catalog text; ``partial`` allows override entries.

    Every error of the file is reported (CatalogErrors, in line order), not only the first;
    with ``errors`` given they are collected there instead of raised.
    """
    own = errors is None
    errors = errors or _Errors()
    skills, tools = _parse_catalog(text, file, known_skills, partial, errors)
    if own:
        errors.raise_if_any()
    return skills, tools


def _parse_catalog(
    text: str,
    file: str,
    known_skills: dict[str, str] | None,
    partial: bool,
    errors: _Errors,
) -> tuple[dict[str, str], list[_RawTool]]:
    root = _compose(text, file)
    if root is None:
        raise CatalogError("the file is empty", file=file, line=1)
    if not isinstance(root, yaml.MappingNode):
        raise CatalogError(
            "top level must be a mapping with 'skills' and 'tools'", file=file, line=_line(root)
        )
    skills: dict[str, str] = {}
    tools: list[_RawTool] = []
    seen_top: set[str] = set()
    for key_node, value_node in root.value:
        key = str(key_node.value)
        with errors.collect():
            if key not in _TOP_KEYS:
                raise CatalogError(
                    "unknown top-level key (allowed: skills, tools)",
                    file=file,
                    line=_line(key_node),
                    field=key,
                )
            if key in seen_top:
                raise CatalogError("key given twice", file=file, line=_line(key_node), field=key)
            seen_top.add(key)
            if key == "skills":
                if not isinstance(value_node, yaml.MappingNode):
                    raise CatalogError(
                        "must map skill ids to titles",
                        file=file,
                        line=_line(value_node),
                        field="skills",
                    )
                for skill_key, skill_title in value_node.value:
                    with errors.collect():
                        skill_id = _scalar(skill_key, file, "skills")
                        if not _ID_RE.match(skill_id):
                            raise CatalogError(
                                f"{skill_id!r} is not a valid skill id",
                                file=file,
                                line=_line(skill_key),
                                field="skills",
                            )
                        skills[skill_id] = _scalar(skill_title, file, f"skills.{skill_id}")
            else:
                if not isinstance(value_node, yaml.SequenceNode):
                    raise CatalogError(
                        "must be a list of tools", file=file, line=_line(value_node), field="tools"
                    )
                for item in value_node.value:
                    with errors.collect():
                        tools.append(_parse_tool(item, file, errors))
    all_skills = {**(known_skills or {}), **skills}
    seen: dict[str, int] = {}
    for raw in tools:
        tool_id = raw.fields.get("id")
        if "id" in raw.bad:
            continue  # its id error is reported; no follow-up errors for this entry
        with errors.collect():
            if not isinstance(tool_id, str):
                raw.bad.add("id")
                raise CatalogError("missing required key", file=file, line=raw.line, field="id")
            if tool_id in seen:
                raw.bad.add("id")
                raise CatalogError(
                    f"duplicate tool id {tool_id!r} (first defined at line {seen[tool_id]})",
                    file=file,
                    line=raw.lines["id"],
                    field="id",
                )
            seen[tool_id] = raw.lines["id"]
        with errors.collect():
            skill = raw.fields.get("skill")
            if isinstance(skill, str) and skill not in all_skills:
                raw.bad.add("skill")
                raise CatalogError(
                    f"unknown skill {skill!r} (known: {', '.join(all_skills)})",
                    file=file,
                    line=raw.lines["skill"],
                    field="skill",
                )
        if not partial:
            for required in ("name", "skill"):
                if required not in raw.fields and required not in raw.bad:
                    raw.bad.add(required)
                    errors.items.append(
                        CatalogError(
                            "missing required key", file=file, line=raw.line, field=required
                        )
                    )
    return skills, tools


def _finish(raw: _RawTool, file: str, base: Tool | None) -> Tool:
    f = raw.fields
    origin = f"{file}:{raw.line}"
    if base is None:
        for required in ("name", "skill"):
            if required not in f:
                raise CatalogError(
                    "missing required key for a new tool", file=file, line=raw.line, field=required
                )
        base = Tool(id=str(f["id"]), name=str(f["name"]), skill=str(f["skill"]))
    tool = replace(base, origin=origin, **{k: v for k, v in f.items() if k != "id"})  # type: ignore[arg-type]
    if tool.trackable and not (tool.github or tool.pypi or tool.apache):
        raise CatalogError(
            "a trackable tool needs github, pypi or apache (or set trackable: false with a reason in notes)",
            file=file,
            line=raw.line,
            field="trackable",
        )
    if not tool.trackable and not tool.notes:
        raise CatalogError(
            "an untrackable tool needs the reason in 'notes'",
            file=file,
            line=raw.line,
            field="notes",
        )
    return tool


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CatalogError("file not found", file=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read: {exc}", file=str(path)) from exc


def load_catalog(extra: Iterable[Path] = (), *, bundled: bool = True) -> Catalog:
    """Return the bundled catalog with each ``extra`` file merged over it, validated."""
    skills: dict[str, str] = {}
    tools: dict[str, Tool] = {}
    files: list[str] = []
    errors = _Errors()
    if bundled:
        text = (
            resources.files("tracker.catalog").joinpath(BUNDLED_CATALOG).read_text(encoding="utf-8")
        )
        name = f"<bundled {BUNDLED_CATALOG}>"
        file_skills, raws = parse_catalog_file(text, name)
        skills.update(file_skills)
        for raw in raws:
            tool = _finish(raw, name, None)
            tools[tool.id] = tool
        files.append(name)
    for path in extra:
        name = str(path)
        file_skills, raws = parse_catalog_file(
            _read(path), name, known_skills=skills, partial=bundled, errors=errors
        )
        skills.update(file_skills)
        for raw in raws:
            if raw.bad:
                continue  # already reported; checking the whole entry would repeat it
            with errors.collect():
                tool = _finish(raw, name, tools.get(str(raw.fields["id"])))
                tools[tool.id] = tool
        errors.raise_if_any()  # every error of this file, in line order
        files.append(name)
    return Catalog(skills=skills, tools=tuple(tools.values()), files=tuple(files))
