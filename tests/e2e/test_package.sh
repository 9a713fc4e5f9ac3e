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

mapfile -t TOOLS < <(find "$EVT_BIN_DIR" -maxdepth 1 -name 'evt-*' -type f -perm -u+x \
  -printf '%f\n' | sort)
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$TMP/contents"
paths=(/usr/share/man/man7/evt.7.gz /usr/lib/systemd/system/evt-work@.service
  /usr/share/evt/event-v1.schema.json /usr/share/doc/evt/copyright
  /usr/share/doc/evt/changelog.Debian.gz /usr/share/doc/evt/examples/work.env.example)
for tool in "${TOOLS[@]}"; do
  paths+=("/usr/bin/$tool" "/usr/share/man/man1/$tool.1.gz" "/usr/share/bash-completion/completions/$tool"
    "/usr/share/fish/vendor_completions.d/$tool.fish")
done
for path in "${paths[@]}"; do
  if grep -qx -- "$path" "$TMP/contents"; then pass "package holds $path"; else fail "package lacks $path"; fi
done
if grep -q -- "/usr/share/zsh/vendor-completions/_evt\$" "$TMP/contents"; then
  pass "package holds the zsh completion"
else
  fail "package lacks /usr/share/zsh/vendor-completions/_evt"
fi

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
# Every command prints the package's upstream version (Version: 0.1.0-1 -> "evt 0.1.0").
version=$(dpkg-deb -f "$deb" Version)
for cmd in "${TOOLS[@]}"; do
  set +e
  out=$("$root/usr/bin/$cmd" --version 2>&1)
  rc=$?
  set -e
  expect_eq "$cmd --version from the package" "0 evt ${version%-*}" "$rc $out"
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
