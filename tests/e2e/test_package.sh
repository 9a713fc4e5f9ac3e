#!/usr/bin/env bash
# The Debian package, as an operator gets it: CPack builds evt_*.deb from this build; its
# contents are where Debian's tools look for them; lintian finds no error in it; unpacked
# into an empty root, every command answers --version and a stdio pipeline runs from there.
source "$(dirname "$0")/lib.sh"

build_dir="$(cd "$EVT_BIN_DIR/.." && pwd)"
if [[ ! -f "$build_dir/CPackConfig.cmake" ]]; then
  fail "no CPackConfig.cmake in $build_dir"
  finish
fi
cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$TMP/pkg" > "$TMP/cpack.log" 2>&1 \
  || { cat "$TMP/cpack.log" >&2; fail "cpack failed"; finish; }
deb=$(ls "$TMP"/pkg/evt_*.deb 2>/dev/null | head -1)
[[ -n "$deb" ]] && pass "cpack built $(basename "$deb")" || { fail "no .deb"; finish; }

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$TMP/contents"
for path in /usr/bin/evt-emit /usr/bin/evt-work /usr/bin/evt-dlq /usr/bin/evt-replay \
  /usr/share/man/man1/evt-dlq.1.gz /usr/share/man/man1/evt-replay.1.gz \
  /usr/share/bash-completion/completions/evt-dlq /usr/share/bash-completion/completions/evt-replay \
  /usr/share/man/man1/evt-emit.1.gz /usr/share/man/man1/evt-work.1.gz /usr/share/man/man7/evt.7.gz \
  /usr/share/bash-completion/completions/evt-emit /usr/share/bash-completion/completions/evt-work \
  /usr/lib/systemd/system/evt-work@.service /usr/share/evt/event-v1.schema.json \
  /usr/share/doc/evt/copyright /usr/share/doc/evt/changelog.Debian.gz \
  /usr/share/doc/evt/examples/work.env.example; do
  if grep -qx -- "$path" "$TMP/contents"; then pass "package holds $path"; else fail "package lacks $path"; fi
done
for zsh_or_fish in _evt evt-work.fish; do
  if grep -q -- "/$zsh_or_fish\$" "$TMP/contents"; then pass "package holds a $zsh_or_fish completion"
  else fail "package lacks the $zsh_or_fish completion"; fi
done

dpkg-deb -f "$deb" Depends > "$TMP/depends"
expect_contains "dependencies come from shlibdeps" "libc6" "$TMP/depends"

if command -v lintian > /dev/null; then
  # Root may run lintian; it only reads the file. Errors fail the test, warnings are shown.
  lintian --no-tag-display-limit "$deb" > "$TMP/lintian.log" 2>&1 || true
  grep -E '^[EW]: ' "$TMP/lintian.log" | sed 's/^/    /'
  if grep -q '^E: ' "$TMP/lintian.log"; then fail "lintian reports errors"; else pass "lintian: no errors"; fi
else
  fail "lintian is not installed (packaging/install-deps.sh installs it)"
fi

root="$TMP/root"
mkdir -p "$root"
dpkg-deb -x "$deb" "$root"
for cmd in evt-emit evt-work evt-dlq evt-replay; do
  if "$root/usr/bin/$cmd" --version > "$TMP/v" 2>&1; then
    expect_contains "$cmd --version from the package" "0.1.0" "$TMP/v"
  else
    fail "$cmd --version from the package failed"
  fi
done
"$root/usr/bin/evt-emit" --type backup.requested --field server=srv-a \
  | "$root/usr/bin/evt-work" -- /bin/true > "$TMP/results" 2> "$TMP/stderr"
expect_eq "a stdio pipeline from the package: the event is done" "done" "$(jq -r .status "$TMP/results")"

if command -v systemd-analyze > /dev/null; then
  cp "$root/usr/lib/systemd/system/evt-work@.service" "$TMP/evt-work@backups.service"
  # --man=no: the pages are in the unpacked root, not where man looks.
  if systemd-analyze verify --man=no "$TMP/evt-work@backups.service" > "$TMP/verify" 2>&1; then
    pass "systemd-analyze verify accepts evt-work@.service"
  else
    sed 's/^/    /' "$TMP/verify" >&2
    fail "systemd-analyze verify rejects evt-work@.service"
  fi
fi
finish
