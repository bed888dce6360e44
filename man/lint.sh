#!/bin/sh
# man/lint.sh - lint every manual page with mandoc -Tlint -Wwarning.
#
# Run by make check (automake exports srcdir); by hand it finds the pages
# next to itself.  Exit 0 when every page is clean, 1 (printing what
# mandoc said) when one is not, 77 (skip) when mandoc is not installed.

: "${srcdir:=$(dirname "$0")/..}"

if ! command -v mandoc >/dev/null 2>&1; then
	echo "mandoc not found: skipping the manual lint"
	exit 77
fi

pages=$(find "$srcdir/man" -type f -name '*.[1-9]' | sort)
if [ -z "$pages" ]; then
	echo "no manual pages under $srcdir/man" >&2
	exit 1
fi

# shellcheck disable=SC2086 # page names have no blanks
out=$(mandoc -Tlint -Wwarning $pages 2>&1)
status=$?
if [ -n "$out" ] || [ $status -ne 0 ]; then
	printf '%s\n' "$out"
	echo "mandoc -Tlint -Wwarning: problems in the pages above (status $status)" >&2
	exit 1
fi
# STYLE.md: no .Lb, and alias pages are install-time links, not .so stubs.
# shellcheck disable=SC2086
bad=$(grep -nE '^\.(Lb|so)([[:space:]]|$)' $pages)
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	echo "pages must not use .Lb or .so (see STYLE.md)" >&2
	exit 1
fi

echo "$(echo "$pages" | wc -l) pages lint clean"
exit 0
