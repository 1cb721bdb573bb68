"""Packaging glue that pyproject.toml cannot express: the wheel carries the
runtime's C sources and assembly stubs, which live at the top of the checkout
(asm/, runtime_c/), as package data under emu/_runtime/.  Everything else is
in pyproject.toml."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
RUNTIME_FOLDERS = {"asm": ("*.s",), "runtime_c": ("*.c", "*.h")}


class build_py_with_runtime(build_py):  # noqa: N801 - setuptools' naming
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return                      # an editable install reads the checkout's folders
        for folder, patterns in RUNTIME_FOLDERS.items():
            for pattern in patterns:
                for src in sorted((HERE / folder).rglob(pattern)):
                    dst = Path(self.build_lib) / "emu" / "_runtime" / src.relative_to(HERE)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dst)


setup(cmdclass={"build_py": build_py_with_runtime})
