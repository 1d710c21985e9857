{{- define "skiff.image" -}}
{{ .root.Values.image.registry }}/skiff-{{ .name }}:{{ .root.Values.image.tag }}
{{- end -}}

{{- define "skiff.labels" -}}
app.kubernetes.io/name: skiff
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "skiff.etcdEndpoints" -}}
{{- if .Values.etcd.endpoints -}}{{ .Values.etcd.endpoints }}{{- else -}}{{ .Release.Name }}-etcd:2379{{- end -}}
{{- end -}}

{{- define "skiff.clientTLS" -}}
- --tls-cert-file=/pki/{{ .name }}.crt
- --tls-key-file=/pki/{{ .name }}.key
- --tls-ca-file=/pki/ca.crt
{{- end -}}
