package readme_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/grantlog/grantlog/client"
)

// TestREADMENATS runs the README's nats CLI examples (the block marked
// "readme-test: needs nats", which TestREADME runs with the real nats CLI
// when it is installed) with nats.go, as the CLI sends them: for each "nats --user U ... --inbox-prefix P req SUBJECT -H ...
// 'BODY'" it connects as U with U's password from grantlog-data/nats-U.creds
// and inbox prefix P, and sends BODY to SUBJECT with the headers; "service
// ls" asks $SRV.INFO.grantlog as the nats CLI does. Every request must be
// answered without an error.
func TestREADMENATS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server; not in -short")
	}
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, b := range parse(t, string(raw)) {
		if b.lang == "sh" && b.needs == "nats" {
			code = b.code
		}
	}
	if code == nil {
		t.Fatal(`README.md has no sh block marked "readme-test: needs nats"`)
	}
	// Join continuation lines into commands.
	var cmds []string
	var cur strings.Builder
	for _, l := range code {
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s)
			continue
		}
		cur.WriteString(l)
		cmds = append(cmds, strings.TrimSpace(cur.String()))
		cur.Reset()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "grantlog-data")
	srv := startServer(ctx, t, dataDir)
	tok, err := os.ReadFile(filepath.Join(dataDir, "bootstrap-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	// The README's walkthrough made OrderManager before; the block reads
	// its id into $ROLE.
	role, err := client.New("http://"+srv.HTTPAddr(), token).CreateRole(ctx, client.CreateRole{RoleName: "OrderManager"})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"$GRANTLOG_TOKEN": token, `'$ROLE'`: role.RoleID}

	var (
		userRE   = regexp.MustCompile(`--user (\S+) --password "\$\(sed -n 's/\^password=//p' grantlog-data/nats-(\S+)\.creds\)"`)
		inboxRE  = regexp.MustCompile(`--inbox-prefix (\S+)`)
		reqRE    = regexp.MustCompile(`\breq (\S+)`)
		headerRE = regexp.MustCompile(`-H "([^:"]+):([^"]*)"`)
		bodyRE   = regexp.MustCompile(`'(\{.*\})'`)
	)
	ran := 0
	for _, c := range cmds {
		if !strings.HasPrefix(c, "nats ") {
			continue
		}
		u := userRE.FindStringSubmatch(c)
		if len(u) < 3 || u[1] != u[2] {
			t.Errorf("README: %q: want --user U --password from grantlog-data/nats-U.creds", c)
			continue
		}
		in := inboxRE.FindStringSubmatch(c)
		if len(in) < 2 || in[1] != "_INBOX_"+u[1] {
			t.Errorf("README: %q: want --inbox-prefix _INBOX_%s (the user may read replies there only)", c, u[1])
			continue
		}
		pw := credsPassword(t, filepath.Join(dataDir, "nats-"+u[1]+".creds"))
		nc, err := nats.Connect(srv.NATSURL(), nats.UserInfo(u[1], pw), nats.CustomInboxPrefix(in[1]))
		if err != nil {
			t.Fatalf("connect as %s: %v", u[1], err)
		}
		if strings.Contains(c, " service ls") {
			// nats service ls: $SRV.INFO, every answer within a wait.
			inbox := nc.NewRespInbox()
			sub, err := nc.SubscribeSync(inbox)
			if err != nil {
				t.Fatal(err)
			}
			if err := nc.PublishRequest("$SRV.INFO", inbox, nil); err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				msg, err := sub.NextMsg(time.Second)
				if err != nil {
					break
				}
				var info struct{ Name string }
				if err := json.Unmarshal(msg.Data, &info); err != nil || info.Name != "grantlog" {
					t.Errorf("service ls as %s: an answer %s", u[1], msg.Data)
				}
				n++
			}
			if n == 0 {
				t.Errorf("README: %q: no service answered $SRV.INFO", c)
			}
			if err := nc.LastError(); err != nil {
				t.Errorf("README: %q: %v", c, err)
			}
			nc.Close()
			ran++
			continue
		}
		subj, body := reqRE.FindStringSubmatch(c), bodyRE.FindStringSubmatch(c)
		if subj == nil || body == nil {
			t.Errorf("README: %q: want req SUBJECT ... 'BODY'", c)
			nc.Close()
			continue
		}
		msg := nats.NewMsg(subj[1])
		for _, h := range headerRE.FindAllStringSubmatch(c, -1) {
			msg.Header.Set(h[1], expand(h[2], vars))
		}
		msg.Data = []byte(expand(body[1], vars))
		if !json.Valid(msg.Data) {
			t.Errorf("README: %q: the body is not JSON: %s", c, msg.Data)
		}
		reply, err := nc.RequestMsg(msg, 5*time.Second)
		nc.Close()
		if err != nil {
			t.Errorf("README: %q: %v", c, err)
			continue
		}
		if ec := reply.Header.Get("Nats-Service-Error-Code"); ec != "" {
			t.Errorf("README: %q: error %s: %s", c, ec, reply.Data)
			continue
		}
		t.Logf("%s as %s: %s", subj[1], u[1], reply.Data)
		ran++
	}
	if ran != 3 {
		t.Errorf("ran %d nats commands of the README, want 3", ran)
	}
}

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// credsPassword reads a Grantlog creds file's password= line.
func credsPassword(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if pw, ok := strings.CutPrefix(sc.Text(), "password="); ok {
			return pw
		}
	}
	t.Fatalf("%s: no password= line", path)
	return ""
}
