"""Load and validate catalog YAML files; every error names the file, line and field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import yaml

from tracker.catalog._yaml_nodes import (
    Errors,
    boolean,
    check_key,
    compose,
    job_terms,
    line_of,
    scalar,
    so_tags,
    str_list,
)
from tracker.catalog.job_terms import JobTerms
from tracker.errors import CatalogError

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


@dataclass(slots=True)
class _RawTool:
    fields: dict[str, object]
    lines: dict[str, int]
    line: int
    bad: set[str] = field(default_factory=set)  # keys with an error already reported

    def reject(self, key: str, message: str, file: str) -> CatalogError:
        """Return the error of ``key``'s value (at its line), marking the key as reported."""
        self.bad.add(key)
        return CatalogError(message, file=file, line=self.lines[key], field=key)


def _parse_tool(node: yaml.Node, file: str, errors: Errors) -> _RawTool:
    if not isinstance(node, yaml.MappingNode):
        raise CatalogError(
            "each tool must be a mapping", file=file, line=line_of(node), field="tools"
        )
    raw = _RawTool(fields={}, lines={}, line=line_of(node))
    for key_node, value_node in node.value:
        key = str(key_node.value)
        raw.bad.add(key)  # until its value is accepted below
        with errors.collect():
            check_key(key_node, key, _TOOL_KEYS, raw.fields, file)
            raw.lines[key] = line_of(value_node)
            if key in ("pypi", "formerly"):
                items = str_list(value_node, file, key)
                pattern = _PYPI_RE if key == "pypi" else _REPO_RE
                for item, item_line in items:
                    if not pattern.match(item):
                        kind = "a PyPI project name" if key == "pypi" else "owner/repo"
                        raise CatalogError(
                            f"{item!r} is not {kind}", file=file, line=item_line, field=key
                        )
                raw.fields[key] = tuple(item for item, _ in items)
            elif key == "trackable":
                raw.fields[key] = boolean(value_node, file, key)
            elif key == "stackoverflow_tags":
                raw.fields[key] = so_tags(value_node, file, key)
            elif key == "job_terms":
                raw.fields[key] = job_terms(value_node, file, line_of(key_node))
            else:
                value = scalar(value_node, file, key)
                checks = {
                    "id": (_ID_RE, "lowercase letters, digits, '-' or '_'"),
                    "github": (_REPO_RE, "owner/repo"),
                    "apache": (_APACHE_RE, "an archive project name such as 'oozie'"),
                }
                if key in checks and not checks[key][0].match(value):
                    raise CatalogError(
                        f"{value!r} is not {checks[key][1]}",
                        file=file,
                        line=line_of(value_node),
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
    errors: Errors | None = None,
) -> tuple[dict[str, str], list[_RawTool]]:
    """Return (skills, raw tools) of one catalog text; ``partial`` allows override entries.

    Every error of the file is reported (CatalogErrors, in line order), not only the first;
    with ``errors`` given they are collected there instead of raised.
    """
    own = errors is None
    errors = errors or Errors()
    skills, tools = _parse_catalog(text, file, known_skills, partial, errors)
    if own:
        errors.raise_if_any()
    return skills, tools


def _parse_catalog(
    text: str,
    file: str,
    known_skills: dict[str, str] | None,
    partial: bool,
    errors: Errors,
) -> tuple[dict[str, str], list[_RawTool]]:
    root = compose(text, file)
    if root is None:
        raise CatalogError("the file is empty", file=file, line=1)
    if not isinstance(root, yaml.MappingNode):
        raise CatalogError(
            "top level must be a mapping with 'skills' and 'tools'", file=file, line=line_of(root)
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
                    line=line_of(key_node),
                    field=key,
                )
            if key in seen_top:
                raise CatalogError("key given twice", file=file, line=line_of(key_node), field=key)
            seen_top.add(key)
            if key == "skills":
                skills.update(_parse_skills(value_node, file, errors))
            else:
                tools.extend(_parse_tools(value_node, file, errors))
    _check_entries(tools, file, {**(known_skills or {}), **skills}, partial, errors)
    return skills, tools


def _parse_skills(node: yaml.Node, file: str, errors: Errors) -> dict[str, str]:
    """The ``skills`` mapping: skill id -> title."""
    if not isinstance(node, yaml.MappingNode):
        raise CatalogError(
            "must map skill ids to titles", file=file, line=line_of(node), field="skills"
        )
    skills: dict[str, str] = {}
    for skill_key, skill_title in node.value:
        with errors.collect():
            skill_id = scalar(skill_key, file, "skills")
            if not _ID_RE.match(skill_id):
                raise CatalogError(
                    f"{skill_id!r} is not a valid skill id",
                    file=file,
                    line=line_of(skill_key),
                    field="skills",
                )
            skills[skill_id] = scalar(skill_title, file, f"skills.{skill_id}")
    return skills


def _parse_tools(node: yaml.Node, file: str, errors: Errors) -> list[_RawTool]:
    """The ``tools`` list, each entry read on its own (one bad entry does not hide the rest)."""
    if not isinstance(node, yaml.SequenceNode):
        raise CatalogError("must be a list of tools", file=file, line=line_of(node), field="tools")
    tools: list[_RawTool] = []
    for item in node.value:
        with errors.collect():
            tools.append(_parse_tool(item, file, errors))
    return tools


def _check_entries(
    tools: list[_RawTool], file: str, all_skills: dict[str, str], partial: bool, errors: Errors
) -> None:
    """Checks across entries: ids present and unique, skills known, required keys given."""
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
                first = f"first defined at line {seen[tool_id]}"
                raise raw.reject("id", f"duplicate tool id {tool_id!r} ({first})", file)
            seen[tool_id] = raw.lines["id"]
        with errors.collect():
            skill = raw.fields.get("skill")
            if isinstance(skill, str) and skill not in all_skills:
                known = ", ".join(all_skills)
                raise raw.reject("skill", f"unknown skill {skill!r} (known: {known})", file)
        if partial:
            continue
        for required in ("name", "skill"):
            if required not in raw.fields and required not in raw.bad:
                raw.bad.add(required)
                errors.items.append(
                    CatalogError("missing required key", file=file, line=raw.line, field=required)
                )


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
    errors = Errors()
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
