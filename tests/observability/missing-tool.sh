#!/bin/sh
# Stands in for a tool CMake did not find, so its tests fail with a clear message instead of vanishing.
echo "$1 is not installed: run ./valerix deps (it installs prometheus, which brings $1), then reconfigure" >&2
exit 1
