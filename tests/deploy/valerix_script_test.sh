#!/usr/bin/env bash
# Tests of ./valerix's own logic that need no running stack: argument checks, the data folder's one spelling, the
# backup passphrase kept for an existing repository, one up/down at a time. Functions are tried on throwaway
# folders by sourcing the script (which then defines them without running a command). CTest: deploy.valerix_script.
set -uo pipefail
SCRIPT=${1:?usage: valerix_script_test.sh PATH/TO/valerix}
WORK=$(mktemp -d /tmp/valerix-script-test-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0 checks=0
check() {  # check NAME CONDITION-EXIT-CODE [DETAIL]
  checks=$((checks + 1))
  if [[ $2 == 0 ]]; then echo "ok - $1"; else echo "FAIL - $1${3:+: $3}"; failures=$((failures + 1)); fi
}
# Runs a snippet with the script's functions and variables loaded (VALERIX_DATA_DIR as given).
with_script() { VALERIX_DATA_DIR=$1 NO_COLOR=1 bash -c "source '$SCRIPT'; set +e; $2"; }

# 1. A command that takes no arguments refuses them, before doing anything. The data folder given is relative, which
#    `up` refuses first thing: a script that let `--help` through must fail this check, not start a stack.
out=$(VALERIX_DATA_DIR=relative/data NO_COLOR=1 "$SCRIPT" up --help 2>&1); rc=$?
[[ $rc != 0 && $out == *"takes no arguments (got: --help)"* && $out != *Installing* ]]
check "up --help is refused without installing or starting anything" $? "rc $rc: $out"
out=$(VALERIX_DATA_DIR=relative/data NO_COLOR=1 "$SCRIPT" status extra 2>&1); rc=$?
[[ $rc != 0 && $out == *"takes no arguments"* ]]
check "status with an argument is refused" $? "rc $rc: $out"

# 2. One spelling per data folder.
got=$(with_script "$WORK//data/./x/" 'echo "$DATA"')
[[ $got == "$WORK/data/x" ]]
check "the data folder is normalised" $? "got $got"

# 3. The passphrase of an existing repository is kept.
data="$WORK/pass"
mkdir -p "$data/secrets" "$data/backup" "$data/backup-storage/archive"
printf '[global]\nrepo1-cipher-pass=Abc123secret\n' >"$data/backup/pgbackrest.conf"
out=$(with_script "$data" 'recover_backup_passphrase; echo "rc=$?"' 2>&1)
[[ $out == *rc=0* && $(cat "$data/secrets/backup-passphrase" 2>/dev/null) == Abc123secret ]]
check "a missing passphrase is taken back from pgbackrest.conf" $? "$out"
rm -f "$data/secrets/backup-passphrase" "$data/backup/pgbackrest.conf"
out=$(with_script "$data" 'recover_backup_passphrase; echo "rc=$?"' 2>&1); rc=$?
[[ $rc != 0 && $out == *"holds an encrypted repository"* && ! -e $data/secrets/backup-passphrase ]]
check "no new passphrase for a repository that is not empty" $? "rc $rc: $out"
rm -rf "$data/backup-storage/archive"
out=$(with_script "$data" 'recover_backup_passphrase; echo "rc=$?"' 2>&1)
[[ $out == *rc=0* && ! -e $data/secrets/backup-passphrase ]]
check "an empty repository may get a new passphrase (made by ensure_secret)" $? "$out"
printf 'Keep0nly' >"$data/secrets/backup-passphrase"
printf '[global]\nrepo1-cipher-pass=Other1\n' >"$data/backup/pgbackrest.conf"
out=$(with_script "$data" 'recover_backup_passphrase; echo "rc=$?"' 2>&1)
[[ $out == *rc=0* && $(cat "$data/secrets/backup-passphrase") == Keep0nly ]]
check "an existing passphrase file is left as it is" $? "$out"

# 4. One up or down at a time per data folder; the lock goes with the process.
data="$WORK/lock"
mkdir -p "$data"
with_script "$data" 'lock_data; echo locked >"'"$WORK"'/held"; sleep 3' &
holder=$!
for _ in $(seq 50); do [[ -e $WORK/held ]] && break; sleep 0.1; done
out=$(with_script "$data" 'lock_data; echo "rc=$?"' 2>&1); rc=$?
[[ $rc != 0 && $out == *"another ./valerix up or down is running"* ]]
check "a second run on the same folder is refused while the first holds the lock" $? "rc $rc: $out"
wait "$holder"
out=$(with_script "$data" 'lock_data; echo "rc=$?"' 2>&1)
[[ $out == *rc=0* ]]
check "the lock is free once the first run has ended" $? "$out"

# 5. A port held by another Valerix stack names that stack's data folder and the command that stops it.
other="$WORK/other-stack"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SUPERVISOR_SERVER_URL="unix://$other/run/supervisor.sock" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); time.sleep(30)' "$port" &
listener=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
out=$(with_script "$WORK/this-stack" "port_taken order $port" 2>&1); rc=$?
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
[[ $rc != 0 && $out == *"another Valerix stack (data folder $other)"* && $out == *"VALERIX_DATA_DIR=$other ./valerix down"* ]]
check "a port held by another stack names it and how to stop it" $? "rc $rc: $out"

echo "$checks checks, $failures failed"
exit $((failures > 0))
