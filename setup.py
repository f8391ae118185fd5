"""`pip install .` compiles the gettext catalogues into the built package (sealbox/catalogues.py).

Everything else about the package is in pyproject.toml. An editable install
(`make install`) compiles them in the source tree instead.
"""

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        # Loaded from its file: the package's own imports (Django) are not in the build environment.
        path = Path(__file__).parent / "sealbox" / "catalogues.py"
        spec = importlib.util.spec_from_file_location("sealbox_catalogues", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.compile_all(Path(self.build_lib) / "sealbox" / "locale", force=True)


setup(cmdclass={"build_py": BuildWithCatalogues})
