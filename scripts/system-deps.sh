#!/usr/bin/env bash
# System programs the tests drive for real: headless Chromium (the QC report renders and
# prints to PDF), chromedriver (Selenium measures the report's layout in it) and poppler's
# pdftotext (the tests read the PDF back).  Installed from
# Debian's packages when missing and we are root; otherwise say what to install, and the
# tests that need them skip with that reason (or fail under CI=true).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} from Debian's packages"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" fonts-dejavu-core
else
    echo "warning: ${missing[*]} not installed (apt-get install ${missing[*]});" \
        "the report rendering tests will skip" >&2
fi
