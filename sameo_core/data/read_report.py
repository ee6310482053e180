"""What a reader did with the annotations it could not use as they were."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    annotation_id: int | str
    reason: str
    detail: str


@dataclass
class ReadReport:
    """Counts per reason of dropped (`bad`) and fixed (`repaired`) annotations, with the first
    example of each kind so a user can find the offending entry in the file."""

    dataset: str
    bad: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    first_bad: Example | None = None
    first_repaired: Example | None = None

    def add_bad(self, annotation_id: int | str, reason: str, detail: str = "") -> None:
        self.bad[reason] += 1
        if self.first_bad is None:
            self.first_bad = Example(annotation_id, reason, detail)

    def add_repaired(self, annotation_id: int | str, reason: str, detail: str = "") -> None:
        self.repaired[reason] += 1
        if self.first_repaired is None:
            self.first_repaired = Example(annotation_id, reason, detail)

    @property
    def num_bad(self) -> int:
        return sum(self.bad.values())

    def summary(self) -> str:
        parts = [f"{self.dataset}: {self.num_bad} bad annotation(s) dropped"]
        if self.bad:
            parts.append(f"  dropped: {dict(sorted(self.bad.items()))}; first: {self.first_bad}")
        if self.repaired:
            parts.append(
                f"  repaired: {dict(sorted(self.repaired.items()))}; first: {self.first_repaired}"
            )
        return "\n".join(parts)


@dataclass
class ReadResult:
    """A reader's output: the valid records, the report, and how many images the file lists
    (images without any valid instance are not represented by a record; `images` lists them
    all, which an evaluation needs: a prediction on an image without objects is a false
    positive)."""

    records: list  # list[InstanceRecord]; untyped here to keep this module dependency-free
    report: ReadReport
    num_images_listed: int
    images: list = field(default_factory=list)  # list[validate.ImageInfo], in file order
