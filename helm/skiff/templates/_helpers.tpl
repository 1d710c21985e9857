{{- define "skiff.image" -}}
{{ .root.Values.image.registry }}/skiff-{{ .name }}:{{ .root.Values.image.tag }}
{{- end -}}

{{- define "skiff.labels" -}}
app.kubernetes.io/name: skiff
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end -}}

{{/* The labels that select one component's pods: (dict "root" . "name" "apiserver") */}}
{{- define "skiff.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* One component's Secret: its certificate and key and the CA certificate (scripts/helm-secrets.py). */}}
{{- define "skiff.secretName" -}}
{{ .root.Release.Name }}-{{ .name }}-tls
{{- end -}}

{{- define "skiff.serviceAccountName" -}}
{{ .root.Release.Name }}-{{ .name }}
{{- end -}}

{{- define "skiff.apiserverAddress" -}}
{{ .Release.Name }}-apiserver:{{ .Values.apiserver.port }}
{{- end -}}

{{- define "skiff.etcdEndpoints" -}}
{{- if .Values.etcd.endpoints -}}{{ .Values.etcd.endpoints }}{{- else -}}{{ .Release.Name }}-etcd:2379{{- end -}}
{{- end -}}

{{/* A client component's certificate flags; its Secret is mounted at /pki. */}}
{{- define "skiff.clientTLS" -}}
- --tls-cert-file=/pki/{{ .name }}.crt
- --tls-key-file=/pki/{{ .name }}.key
- --tls-ca-file=/pki/ca.crt
{{- end -}}

{{/* The pod-level settings every control-plane component shares: its own ServiceAccount without a
token (each authenticates to its own apiserver by certificate, never to the hosting cluster), the pod
security context, and for replicated components a preferred anti-affinity that spreads them over nodes. */}}
{{- define "skiff.podSpec" -}}
serviceAccountName: {{ include "skiff.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext: {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- if gt (int .replicas) 1 }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels: {{- include "skiff.selector" . | nindent 14 }}
{{- end }}
{{- end -}}

{{/* Liveness and readiness on the component's /livez and /readyz, served on its metrics port. */}}
{{- define "skiff.probes" -}}
startupProbe:
  httpGet: {path: /livez, port: metrics}
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /livez, port: metrics}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  failureThreshold: 2
{{- end -}}

{{/* The component's own Secret, mounted at /pki and into no other pod. */}}
{{- define "skiff.pkiVolume" -}}
- name: pki
  secret: {secretName: {{ include "skiff.secretName" . }}, defaultMode: 0400}
{{- end -}}

{{/* A PodDisruptionBudget for a component that runs more than one replica. */}}
{{- define "skiff.pdb" -}}
{{- if and .root.Values.podDisruptionBudget.enabled (gt (int .replicas) 1) }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .root.Release.Name }}-{{ .name }}
  labels: {{- include "skiff.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
spec:
  maxUnavailable: {{ .root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels: {{- include "skiff.selector" . | nindent 6 }}
{{- end }}
{{- end -}}
