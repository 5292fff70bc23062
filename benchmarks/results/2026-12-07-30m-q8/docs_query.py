"""Print the SQL block of one question of docs/queries.md: ``python docs_query.py '## 8.'``."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[3] / "docs" / "queries.md"

section = DOCS.read_text(encoding="utf-8").split("\n" + sys.argv[1], 1)[1]
print(section.split("```sql\n", 1)[1].split("```", 1)[0], end="")
