#!/usr/bin/env bash
# relayout.sh rewrites code and docs written against the package layout
# before the "layers" branch (issue #11 item 5) to the tiered layout:
#
#   internal/index      -> internal/storage/index
#   internal/logsig     -> internal/storage/logsig
#   internal/eventlog   -> internal/storage/eventlog
#   internal/snapshot   -> internal/storage/eventlog   (merged; identifiers renamed)
#   internal/credential, internal/authz, internal/principal, internal/metaperm
#                       -> internal/auth               (merged; identifiers renamed)
#   principal.Caller    -> events.Caller                (public: it is in public APIs)
#   examples/catalogs   -> internal/catalogs            (JSON embedded)
#
# Not done by this script (the public packages stopped exposing internal
# types; code compiled against the old signatures keeps compiling unless
# it relies on these):
#   - command.Config.Signer is a command.Signer interface (a *logsig.Key
#     still fits; a nil *logsig.Key counts as unset).
#   - command.State is WaitApplied only; query.New takes a query.Index
#     (Applied, WaitApplied). Pass the *index.Store as before: both panic
#     on anything else. A fake command.State must now be the real index.
#   - index.Member is an alias of events.RoleMember: keyed literals only
#     (go vet flags index.Member{"ns", "u"}).
#   - index.Store.SigningKeys and projector.Index.SigningKeys return
#     map[string]ed25519.PublicKey instead of logsig.Keys (convert with
#     logsig.Keys(m) to call its methods).
#   - A file that declares its own identifier "auth" and now imports
#     internal/auth needs an import name (natsapi_test.go uses grantauth).
#   - Files under the moved directories must be moved too (git mv, or let
#     git's rename detection carry them on merge).
#
# Usage: scripts/dev/relayout.sh [FILE|DIR]...
# Without arguments it rewrites every tracked text file of the repository
# except docs/results (historical measurements). It is idempotent. After the
# textual rewrite it fixes the imports of the rewritten Go files (drops
# duplicate and unused auth/eventlog imports, adds a missing events/auth/
# eventlog import) and gofmts them. Review the diff and build afterwards.
set -euo pipefail

M=github.com/grantlog/grantlog

rules=$(mktemp)
trap 'rm -f "$rules"' EXIT
cat >"$rules" <<'SED'
# --- import paths (docs and scripts too) ---
s#internal/index\b#internal/storage/index#g
s#internal/logsig\b#internal/storage/logsig#g
s#internal/eventlog\b#internal/storage/eventlog#g
s#internal/snapshot\b#internal/storage/eventlog#g
s#internal/(credential|authz|principal|metaperm)\b#internal/auth#g
s#examples/catalogs\b#internal/catalogs#g
# --- principal -> events (Caller) and auth ---
s/(^|[^.[:alnum:]_])principal\.Caller\b/\1events.Caller/g
s/(^|[^.[:alnum:]_])principal\.([A-Z])/\1auth.\2/g
# --- authz -> auth ---
s/(^|[^.[:alnum:]_])authz\.New\b/\1auth.NewAuthorizer/g
s/(^|[^.[:alnum:]_])authz\.([A-Z])/\1auth.\2/g
# --- credential -> auth ---
s/(^|[^.[:alnum:]_])credential\.TokenFile\b/\1auth.BootstrapTokenFile/g
s/(^|[^.[:alnum:]_])credential\.HashFile\b/\1auth.BootstrapHashFile/g
s/(^|[^.[:alnum:]_])credential\.TokenPrefix\b/\1auth.BootstrapTokenPrefix/g
s/(^|[^.[:alnum:]_])credential\.([A-Z])/\1auth.\2/g
# --- metaperm -> auth (meta-permissions get the Perm prefix) ---
s/(^|[^.[:alnum:]_])metaperm\.([A-Z])/\1auth.Perm\2/g
# --- snapshot -> eventlog ---
s/(^|[^.[:alnum:]_])snapshot\.Manifest\b/\1eventlog.SnapshotManifest/g
s/(^|[^.[:alnum:]_])snapshot\.Meta([A-Za-z]+)\b/\1eventlog.SnapshotMeta\2/g
s/(^|[^.[:alnum:]_])snapshot\.DefaultBucket\b/\1eventlog.DefaultSnapshotBucket/g
s/(^|[^.[:alnum:]_])snapshot\.DefaultKeep\b/\1eventlog.DefaultSnapshotKeep/g
s/(^|[^.[:alnum:]_])snapshot\.DefaultInterval\b/\1eventlog.DefaultSnapshotInterval/g
s/(^|[^.[:alnum:]_])snapshot\.ErrRefused\b/\1eventlog.ErrSnapshotRefused/g
s/(^|[^.[:alnum:]_])snapshot\.ErrUnsigned\b/\1eventlog.ErrSnapshotUnsigned/g
s/(^|[^.[:alnum:]_])snapshot\.ErrSignature\b/\1eventlog.ErrSnapshotSignature/g
s/(^|[^.[:alnum:]_])snapshot\.ErrAhead\b/\1eventlog.ErrSnapshotAhead/g
s/(^|[^.[:alnum:]_])snapshot\.ErrHistory\b/\1eventlog.ErrSnapshotHistory/g
s/(^|[^.[:alnum:]_])snapshot\.ErrIncompatible\b/\1eventlog.ErrSnapshotIncompatible/g
s/(^|[^.[:alnum:]_])snapshot\.ErrArchive\b/\1eventlog.ErrSnapshotArchive/g
s/(^|[^.[:alnum:]_])snapshot\.ObjectName\b/\1eventlog.SnapshotObjectName/g
s/(^|[^.[:alnum:]_])snapshot\.Config\b/\1eventlog.SnapshotterConfig/g
s/(^|[^.[:alnum:]_])snapshot\.Info\b/\1eventlog.SnapshotInfo/g
s/(^|[^.[:alnum:]_])snapshot\.Latest\b/\1eventlog.LatestSnapshot/g
s/(^|[^.[:alnum:]_])snapshot\.List\b/\1eventlog.ListSnapshots/g
s/(^|[^.[:alnum:]_])snapshot\.RestoreForStream\b/\1eventlog.RestoreSnapshotForStream/g
s/(^|[^.[:alnum:]_])snapshot\.RestoreOptions\b/\1eventlog.RestoreSnapshotOptions/g
s/(^|[^.[:alnum:]_])snapshot\.Take\b/\1eventlog.TakeSnapshot/g
s/(^|[^.[:alnum:]_])snapshot\.Option\b/\1eventlog.SnapshotOption/g
s/(^|[^.[:alnum:]_])snapshot\.With(Keep|Node|Signer|TempDir)\b/\1eventlog.WithSnapshot\2/g
s/(^|[^.[:alnum:]_])snapshot\.([A-Z])/\1eventlog.\2/g
SED

if [[ $# -eq 0 ]]; then
	cd "$(git rev-parse --show-toplevel)"
	mapfile -t files < <(git ls-files -- '*.go' '*.md' '*.yml' '*.yaml' '*.sh' '*.conf' '*.json' \
		Makefile .ci/run Dockerfile '*/Dockerfile' ':!docs/results/**' ':!scripts/dev/relayout.sh')
else
	mapfile -t files < <(find "$@" -type f \( -name '*.go' -o -name '*.md' -o -name '*.yml' -o -name '*.yaml' \
		-o -name '*.sh' -o -name '*.conf' -o -name Makefile -o -name run -o -name Dockerfile \) \
		-not -path '*/docs/results/*' -not -name relayout.sh)
fi

changed=()
for f in "${files[@]}"; do
	[[ -f $f ]] || continue
	if ! sed -E -f "$rules" "$f" | cmp -s - "$f"; then
		sed -i -E -f "$rules" "$f"
		changed+=("$f")
	fi
done

# Imports of the rewritten Go files.
for f in "${changed[@]}"; do
	[[ $f == *.go ]] || continue
	M=$M perl -0777 -i -e '
		my $m = $ENV{M};
		local $_ = <>;
		my %want = (auth => "$m/internal/auth", events => "$m/events",
			eventlog => "$m/internal/storage/eventlog");
		# What a rewrite can introduce: events only through events.Caller.
		my %use = (auth => qr{(?<![\w.])auth\.[A-Z]}, events => qr{(?<![\w.])events\.Caller\b},
			eventlog => qr{(?<![\w.])eventlog\.[A-Z]});
		if (/^import \(\n(.*?)^\)\n/ms) {
			my ($start, $len, $block) = ($-[0], $+[0] - $-[0], $1);
			my $body = substr($_, 0, $start) . substr($_, $start + $len);
			$body =~ s{//[^\n]*}{}g;            # usage in code, not in comments
			my (%seen, @out);
			for my $l (split /\n/, $block) {
				next if $l =~ /\S/ && $seen{$l}++;          # duplicate import line
				if ($l =~ /^\s*"\Q$m\E\/(?:internal\/auth|internal\/storage\/eventlog|events)"$/) {
					my ($name) = $l =~ /\/(\w+)"$/;
					next unless $body =~ /\b\Q$name\E\.[A-Z]/;   # unused now
				}
				push @out, $l;
			}
			for my $name (sort keys %want) {
				next unless $body =~ $use{$name};
				next if grep { /"\Q$want{$name}\E"$/ || /^\s*\Q$name\E\s+"/ } @out;
				push @out, "\t\"$want{$name}\"";
			}
			substr($_, $start, $len) = "import (\n" . join("\n", @out) . "\n)\n";
		}
		print;
	' "$f"
	gofmt -w "$f"
done
printf 'relayout: rewrote %d file(s)\n' "${#changed[@]}"
