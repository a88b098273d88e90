"""What sqlfluff's jinja templater lacks of dbt to render this project's models (`.sqlfluff`:
library_path): `var` reads dbt_project.yml's vars (the targets' counting rules among them), so the
linter sees the SQL dbt compiles; `exceptions` raises as dbt's compiler error would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_VARS: dict[str, Any] = yaml.safe_load((Path(__file__).parent.parent / "dbt_project.yml").read_text(encoding="utf-8"))[
    "vars"
]


def var(name: str, default: Any = "item") -> Any:
    return _VARS.get(name, default)


class exceptions:  # noqa: N801 (dbt's name)
    @staticmethod
    def raise_compiler_error(message: str) -> None:
        raise RuntimeError(message)
