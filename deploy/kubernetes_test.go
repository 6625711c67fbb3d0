package deploy

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const base = "kubernetes/base"

// kinds are the Go types of every kind the base may hold, by apiVersion
// and kind; a document of any other kind is an error.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"batch/v1/Job":                                  func() any { return &batchv1.Job{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor":       func() any { return &monitoringv1.ServiceMonitor{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": nil, // kustomize's own file, rendered below
}

// manifests is a set of decoded objects by kind and name.
type manifests map[string]any

func (m manifests) get(kind, name string) any { return m[kind+"/"+name] }

// decodeStrict decodes each YAML document of raw into its Kubernetes API
// type, refusing unknown and duplicate fields.
func decodeStrict(t *testing.T, what string, raw []byte, into manifests) {
	t.Helper()
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var meta metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), "%s #%d", what, i)
		newObj, known := kinds[meta.APIVersion+"/"+meta.Kind]
		require.True(t, known, "%s #%d: unexpected %s %s", what, i, meta.APIVersion, meta.Kind)
		if newObj == nil {
			continue
		}
		obj := newObj()
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s #%d (%s): unknown or duplicate field", what, i, meta.Kind)
		name := obj.(metav1.Object).GetName()
		require.NotEmpty(t, name, "%s #%d has a name", what, i)
		into[meta.Kind+"/"+name] = obj
	}
}

// rendered is the base as kustomize renders it, decoded strictly.
func rendered(t *testing.T) manifests {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), base)
	require.NoError(t, err, "kustomize build %s", base)
	out, err := res.AsYaml()
	require.NoError(t, err)
	m := manifests{}
	decodeStrict(t, "kustomize build", out, m)
	return m
}

// TestKubernetesManifestsDecodeStrictly: every manifest of the base
// decodes into the Kubernetes API's own types with no unknown field, and
// the base holds each kind a deployment needs.
func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(base, "*.yaml"))
	require.NoError(t, err)
	m := manifests{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		decodeStrict(t, f, raw, m)
	}
	var have []string
	for key := range m {
		have = append(have, strings.Split(key, "/")[0])
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
		"HorizontalPodAutoscaler", "Job", "NetworkPolicy", "ServiceMonitor"} {
		require.Contains(t, have, kind)
	}

	t.Run("RefusesAnUnknownField", func(t *testing.T) {
		var d appsv1.Deployment
		err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replica: 2}\n"), &d)
		require.ErrorContains(t, err, `unknown field "replica"`)
	})
}

// TestKustomizeRendersTheBase: the base renders, and the rendered objects
// keep their kinds and names, with the common labels on each.
func TestKustomizeRendersTheBase(t *testing.T) {
	t.Parallel()
	m := rendered(t)
	require.Equal(t, 13, len(m), "objects rendered")
	for key, obj := range m {
		require.Equal(t, "jobstatus", obj.(metav1.Object).GetLabels()["app.kubernetes.io/name"], key)
	}
}

// goConst returns the value of the string constant name declared in the
// Go file path (relative to the repository), so the manifests are checked
// against the code, not against a copy.
func goConst(t *testing.T, path, name string) string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", path), nil, 0)
	require.NoError(t, err)
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name == name && i < len(vs.Values) {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "%s.%s is a string literal", path, name)
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					return v
				}
			}
		}
	}
	t.Fatalf("%s declares no constant %s", path, name)
	return ""
}

// settings reads the generated settings table of docs/configuration.md
// (bootstrap's TestConfigReference keeps it equal to the code): every
// variable the binary reads, with its default.
func settings(t *testing.T) (defaults map[string]string, serveNeeds [][]string) {
	t.Helper()
	raw, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)
	defaults = map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(JOBSTATUS_[A-Z0-9_]+)` \\| `[^`]*` \\| `?([^`|]*)`? \\|").FindAllStringSubmatch(string(raw), -1) {
		defaults[m[1]] = strings.TrimSpace(m[2])
	}
	require.Greater(t, len(defaults), 40, "the settings table of docs/configuration.md")
	row := regexp.MustCompile("(?m)^\\| `serve` \\| [^|]*auth settings: ([^|]*)\\|").FindStringSubmatch(string(raw))
	require.NotNil(t, row, "docs/configuration.md says what serve requires")
	for _, part := range strings.Split(row[1], ", ") {
		serveNeeds = append(serveNeeds, regexp.MustCompile("JOBSTATUS_[A-Z0-9_]+").FindAllString(part, -1))
	}
	return defaults, serveNeeds
}

// containerEnv is a container's variables: its env and the keys of the
// ConfigMaps it takes with envFrom.
func containerEnv(t *testing.T, m manifests, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, from := range c.EnvFrom {
		require.NotNil(t, from.ConfigMapRef, "envFrom takes ConfigMaps only")
		cm, ok := m.get("ConfigMap", from.ConfigMapRef.Name).(*corev1.ConfigMap)
		require.True(t, ok, "envFrom names ConfigMap %s of the base", from.ConfigMapRef.Name)
		for k, v := range cm.Data {
			env[k] = corev1.EnvVar{Name: k, Value: v}
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

// portOf returns the port number of a listen address such as ":9464".
func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	n, err := strconv.Atoi(port)
	require.NoError(t, err, addr)
	return int32(n)
}

// namedPort resolves a probe's or Service's port to the container port.
func namedPort(t *testing.T, c corev1.Container, p intstr.IntOrString) corev1.ContainerPort {
	t.Helper()
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, p.String())
	return corev1.ContainerPort{}
}

// TestDeploymentMatchesTheBinary: the Deployment's probes ask the admin
// listener's /healthz and /readyz (httpapi's constants) on the port the
// admin listener is configured to take, each container port is the one of
// its listener's address, every variable the pods set is one the binary
// reads, serve gets every setting it requires, the credentials files are
// mounted as directories (the reload follows Kubernetes' symlink swap),
// the memory limit is the one docs/operations.md computes, and the grace
// period covers the shutdown timeout.
func TestDeploymentMatchesTheBinary(t *testing.T) {
	t.Parallel()
	m := rendered(t)
	defaults, serveNeeds := settings(t)
	const admin = "adapters/httpapi/admin.go"
	healthz, readyz := goConst(t, admin, "HealthzPath"), goConst(t, admin, "ReadyzPath")

	d, ok := m.get("Deployment", "jobstatus").(*appsv1.Deployment)
	require.True(t, ok)
	pod := d.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]
	require.Equal(t, []string{"serve"}, c.Args)
	env := containerEnv(t, m, c)

	t.Run("EveryVariableIsOneTheBinaryReads", func(t *testing.T) {
		for _, job := range []string{"jobstatus-migrate"} {
			j, ok := m.get("Job", job).(*batchv1.Job)
			require.True(t, ok, job)
			for _, jc := range j.Spec.Template.Spec.Containers {
				for name := range containerEnv(t, m, jc) {
					_, known := defaults[name]
					require.True(t, known, "Job %s sets %s, which jobstatus does not read", job, name)
				}
			}
		}
		for name := range env {
			_, known := defaults[name]
			require.True(t, known || name == "GOMEMLIMIT" || name == "GOGC" || strings.HasPrefix(name, "OTEL_"),
				"the Deployment sets %s, which jobstatus does not read", name)
		}
		for _, anyOf := range append(serveNeeds, []string{"JOBSTATUS_DATABASE_URL"}) {
			require.True(t, slices.ContainsFunc(anyOf, func(n string) bool { _, ok := env[n]; return ok }),
				"serve needs one of %v", anyOf)
		}
		require.NotEmpty(t, env["JOBSTATUS_INTERNAL_WRITERS"].Value, "the write API listens only with writers")
	})

	t.Run("ProbesAskTheAdminListener", func(t *testing.T) {
		adminPort := portOf(t, env["JOBSTATUS_ADMIN_ADDR"].Value)
		for name, probe := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			require.NotNil(t, probe, name)
			require.NotNil(t, probe.HTTPGet, name)
			want := healthz
			if name == "readiness" {
				want = readyz
			}
			require.Equal(t, want, probe.HTTPGet.Path, "%s probe", name)
			require.Equal(t, adminPort, namedPort(t, c, probe.HTTPGet.Port).ContainerPort, "%s probe on the admin listener's port", name)
		}
	})

	t.Run("ContainerPortsAreTheListeners", func(t *testing.T) {
		for port, variable := range map[string]string{"http": "JOBSTATUS_HTTP_ADDR", "internal": "JOBSTATUS_INTERNAL_ADDR", "admin": "JOBSTATUS_ADMIN_ADDR"} {
			require.Equal(t, portOf(t, env[variable].Value), namedPort(t, c, intstr.FromString(port)).ContainerPort, "port %s is %s's", port, variable)
		}
	})

	t.Run("CredentialsFilesAreMountedDirectories", func(t *testing.T) {
		mounts := map[string]corev1.VolumeMount{}
		for _, vm := range c.VolumeMounts {
			require.Empty(t, vm.SubPath, "%s: a subPath mount never sees a ConfigMap or Secret update", vm.Name)
			mounts[vm.MountPath] = vm
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
		}
		for _, variable := range []string{"JOBSTATUS_AUTH_JWKS_FILE", "JOBSTATUS_API_KEYS_FILE"} {
			path := env[variable].Value
			vm, ok := mounts[filepath.Dir(path)]
			require.True(t, ok, "%s=%s is in a mounted directory", variable, path)
			v := volumes[vm.Name]
			var keys []string
			switch {
			case v.ConfigMap != nil:
				cm, ok := m.get("ConfigMap", v.ConfigMap.Name).(*corev1.ConfigMap)
				require.True(t, ok, v.ConfigMap.Name)
				for k := range cm.Data {
					keys = append(keys, k)
				}
			case v.Secret != nil:
				s, ok := m.get("Secret", v.Secret.SecretName).(*corev1.Secret)
				require.True(t, ok, v.Secret.SecretName)
				for k := range s.StringData {
					keys = append(keys, k)
				}
				for k := range s.Data {
					keys = append(keys, k)
				}
			default:
				t.Fatalf("volume %s is neither a ConfigMap nor a Secret", vm.Name)
			}
			require.Contains(t, keys, filepath.Base(path), "%s names a key of volume %s", variable, vm.Name)
		}
		s, ok := m.get("Secret", "jobstatus-api-keys").(*corev1.Secret)
		require.True(t, ok)
		require.NotEmpty(t, s.StringData["clients.yaml"])
	})

	t.Run("MemoryIsTheBudgetOfTheDocs", func(t *testing.T) {
		doc, err := os.ReadFile("../docs/operations.md")
		require.NoError(t, err)
		limit := regexp.MustCompile(`needs a (\d+) MiB memory\s+limit at the defaults`).FindSubmatch(doc)
		require.NotNil(t, limit, "docs/operations.md states the pod's memory limit")
		request := regexp.MustCompile(`deploy/kubernetes` + "`" + ` requests (\d+) MiB`).FindSubmatch(doc)
		require.NotNil(t, request, "docs/operations.md states the pod's memory request")
		require.Equal(t, resource.MustParse(string(limit[1])+"Mi"), c.Resources.Limits[corev1.ResourceMemory])
		require.Equal(t, resource.MustParse(string(request[1])+"Mi"), c.Resources.Requests[corev1.ResourceMemory])
		require.NotContains(t, env, "GOMEMLIMIT", "the service derives its soft limit from the container's")
	})

	t.Run("GracePeriodCoversTheShutdown", func(t *testing.T) {
		shutdown, err := time.ParseDuration(defaults["JOBSTATUS_HTTP_SHUTDOWN_TIMEOUT"])
		require.NoError(t, err)
		if v, ok := env["JOBSTATUS_HTTP_SHUTDOWN_TIMEOUT"]; ok {
			shutdown, err = time.ParseDuration(v.Value)
			require.NoError(t, err)
		}
		require.NotNil(t, pod.TerminationGracePeriodSeconds)
		require.GreaterOrEqual(t, time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second, shutdown+5*time.Second)
	})

	t.Run("MigrationJobMigrates", func(t *testing.T) {
		j, ok := m.get("Job", "jobstatus-migrate").(*batchv1.Job)
		require.True(t, ok)
		require.Equal(t, []string{"migrate"}, j.Spec.Template.Spec.Containers[0].Args)
		require.Equal(t, c.Image, j.Spec.Template.Spec.Containers[0].Image, "the same image as the Deployment")
	})
}

// TestOnlyThePublicAPIIsPublic: the Service meant for the load balancer
// exposes only the public port; the NetworkPolicy admits anybody to that
// port alone, workers to the write API and the monitoring namespace to the
// admin listener; the ServiceMonitor scrapes /metrics on the admin port of
// a Service it selects; the PodDisruptionBudget and the autoscaler target
// the Deployment's pods.
func TestOnlyThePublicAPIIsPublic(t *testing.T) {
	t.Parallel()
	m := rendered(t)
	d := m.get("Deployment", "jobstatus").(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	podLabels := labels.Set(d.Spec.Template.Labels)

	public := m.get("Service", "jobstatus").(*corev1.Service)
	require.Len(t, public.Spec.Ports, 1)
	require.Equal(t, "http", namedPort(t, c, public.Spec.Ports[0].TargetPort).Name)
	for _, s := range []string{"jobstatus", "jobstatus-internal", "jobstatus-admin"} {
		svc := m.get("Service", s).(*corev1.Service)
		require.True(t, labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels), "Service %s selects the pods", s)
		require.Contains(t, []corev1.ServiceType{"", corev1.ServiceTypeClusterIP}, svc.Spec.Type, "Service %s stays inside the cluster", s)
	}

	np := m.get("NetworkPolicy", "jobstatus").(*networkingv1.NetworkPolicy)
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	require.NoError(t, err)
	require.True(t, sel.Matches(podLabels), "the NetworkPolicy applies to the pods")
	require.Equal(t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes)
	open := map[string]bool{}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			port := namedPort(t, c, *p.Port).Name
			if len(rule.From) == 0 {
				open[port] = true
			}
		}
	}
	require.Equal(t, map[string]bool{"http": true}, open, "only the public API is open to every source")

	sm := m.get("ServiceMonitor", "jobstatus").(*monitoringv1.ServiceMonitor)
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	require.NoError(t, err)
	scraped := 0
	for _, s := range []string{"jobstatus", "jobstatus-internal", "jobstatus-admin"} {
		svc := m.get("Service", s).(*corev1.Service)
		if !smSel.Matches(labels.Set(svc.Labels)) {
			continue
		}
		scraped++
		require.Equal(t, "jobstatus-admin", s, "the ServiceMonitor scrapes the admin Service only")
		require.Len(t, sm.Spec.Endpoints, 1)
		require.Equal(t, "admin", sm.Spec.Endpoints[0].Port)
		require.Equal(t, goConst(t, "adapters/httpapi/admin.go", "MetricsPath"), sm.Spec.Endpoints[0].Path)
		require.Equal(t, "jobstatus", svc.Labels[sm.Spec.JobLabel], `the alerts expect job="jobstatus"`)
	}
	require.Equal(t, 1, scraped)

	pdb := m.get("PodDisruptionBudget", "jobstatus").(*policyv1.PodDisruptionBudget)
	pdbSel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	require.NoError(t, err)
	require.True(t, pdbSel.Matches(podLabels))
	hpa := m.get("HorizontalPodAutoscaler", "jobstatus").(*autoscalingv2.HorizontalPodAutoscaler)
	require.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind)
	require.Equal(t, d.Name, hpa.Spec.ScaleTargetRef.Name)
	require.Greater(t, hpa.Spec.MaxReplicas, *hpa.Spec.MinReplicas)
	require.Less(t, pdb.Spec.MinAvailable.IntValue(), int(*hpa.Spec.MinReplicas), "a drain can always evict a pod")
	require.Equal(t, fmt.Sprint(*d.Spec.Replicas), fmt.Sprint(*hpa.Spec.MinReplicas))
}
