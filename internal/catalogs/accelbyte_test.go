package catalogs_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/grantlog/grantlog/internal/catalogs"
	"github.com/grantlog/grantlog/perm"
)

// TestAccelByteWholeCatalog: every row of the embedded TSV is an endpoint,
// in file order, with a unique name per service and a valid required
// template; names are deterministic.
func TestAccelByteWholeCatalog(t *testing.T) {
	eps, err := catalogs.Endpoints("accelbyte")
	require.NoError(t, err)
	require.Len(t, eps, 1840)

	// The file's rows, as they are.
	f, err := os.Open("endpoints-accelbyte.tsv")
	require.NoError(t, err)
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "service\t") {
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	require.NoError(t, sc.Err())
	require.Len(t, rows, len(eps))

	names := map[[2]string]bool{}
	services := map[string]int{}
	params := 0
	for i, e := range eps {
		r := rows[i]
		assert.Equal(t, []string{r[0], r[1], r[2], r[3]}, []string{e.Service, e.Method, e.Path, e.Resource}, "row %d", i)
		k := [2]string{e.Service, e.Name}
		assert.False(t, names[k], "duplicate name %v", k)
		names[k] = true
		services[e.Service]++
		assert.Regexp(t, `^[A-Za-z0-9_-]{1,64}$`, e.Name)
		p, ps, err := perm.ValidateEndpointTemplate(perm.Permission{Resource: e.Resource, Action: e.Action})
		if assert.NoError(t, err, "row %d", i) {
			assert.Equal(t, e.Resource, p.Resource, "row %d is canonical", i)
		}
		if len(ps) > 0 {
			params++
			for _, n := range ps {
				assert.Contains(t, e.Path, "{"+n+"}", "row %d: placeholder {%s} is a path parameter", i, n)
			}
		}
	}
	assert.Len(t, services, 23)
	assert.Equal(t, 10, params, "rows naming {clientId}, {platformId} or {groupId}")
	renamed := 0
	for i, e := range eps {
		if e.Name != rows[i][5] {
			renamed++
		}
	}
	assert.Equal(t, 14+4, renamed, "14 second rows of an operationId, 4 operationIds that are not identifiers")

	again, err := catalogs.Endpoints("accelbyte")
	require.NoError(t, err)
	assert.Equal(t, eps, again, "deterministic")
}

// TestAccelByteDuplicateOperationIDs: AccelByte lists 14 deprecated IAM
// endpoints twice, once per alternative permission (ADMIN:ROLE or the
// deprecated ROLE:ADMIN); the first row in file order keeps the
// operationId, the second is <operationId>_2 (social's own
// deleteUserStatItems_2 and the like are taken, so never given).
func TestAccelByteDuplicateOperationIDs(t *testing.T) {
	eps, err := catalogs.Endpoints("accelbyte")
	require.NoError(t, err)
	by := map[string]catalogs.Endpoint{}
	for _, e := range eps {
		if e.Service == "iam" {
			by[e.Name] = e
		}
	}
	require.Contains(t, by, "CreateRole")
	require.Contains(t, by, "CreateRole_2")
	assert.Equal(t, "ADMIN:ROLE", by["CreateRole"].Resource)
	assert.Equal(t, "ROLE:ADMIN", by["CreateRole_2"].Resource)
	assert.Equal(t, by["CreateRole"].Path, by["CreateRole_2"].Path)
	// operationIds that are not identifiers.
	lobby := map[string]bool{}
	for _, e := range eps {
		if e.Service == "lobby" || e.Service == "gametelemetry" {
			lobby[e.Name] = true
		}
	}
	assert.True(t, lobby["get_list_of_friends"])
	assert.True(t, lobby["get_events_game_telemetry_v1_admin_namespaces__namespace__events_"[:64]])
}

func TestTSVNamesSkipTakenNames(t *testing.T) {
	eps, err := catalogs.ParseEndpointsTSV("x.tsv", "# c\nservice\tmethod\tpath\tresource\taction\toperationId\n"+
		"s\tGET\t/a\tA\t2\top\n"+
		"s\tGET\t/a\tB\t2\top\n"+
		"s\tGET\t/b\tC\t2\top_2\n"+
		"t\tGET\t/c\tD\t2\top\n")
	require.NoError(t, err)
	var names []string
	for _, e := range eps {
		names = append(names, e.Service+"/"+e.Name)
	}
	assert.Equal(t, []string{"s/op", "s/op_3", "s/op_2", "t/op"}, names)
	for _, bad := range []string{
		"s\tGET\t/a\tA\t2\top\n",
		"service\tmethod\tpath\tresource\taction\toperationId\ns\tGET\t/a\tA\t2\n",
		"service\tmethod\tpath\tresource\taction\toperationId\ns\tGET\t/a\tA\tx\top\n",
		"",
	} {
		_, err := catalogs.ParseEndpointsTSV("x.tsv", bad)
		assert.Error(t, err, bad)
	}
}
