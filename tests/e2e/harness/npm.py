"""An npm package pinned by a package-lock.json of the source tree
(tests/e2e/axe, tests/e2e/openapi), found where it is: in the source tree when
someone ran `npm ci` there, else installed once into the build tree
(tests/e2e/.work, which `make clean` removes), so the source tree, and a
distcheck's read-only one, stay untouched."""

import os
import shutil
import subprocess

E2E_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NpmError(Exception):
    pass


def pinned(builddir, folder, subpath):
    """The path of subpath (under node_modules/) of tests/e2e/<folder>'s pinned packages."""
    src = os.path.join(E2E_DIR, folder)
    if os.path.exists(os.path.join(src, subpath)):
        return os.path.join(src, subpath)
    dest = os.path.join(os.path.abspath(builddir), "tests", "e2e", ".work", folder)
    path = os.path.join(dest, subpath)
    if not os.path.exists(path):
        os.makedirs(dest, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=dest,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300)
        if r.returncode != 0 or not os.path.exists(path):
            raise NpmError("npm ci in %s failed:\n%s" % (dest, r.stdout[-2000:]))
    return path
