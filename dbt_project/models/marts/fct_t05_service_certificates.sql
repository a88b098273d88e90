-- T05 （六）各类服务认证有效证书: service certificates in force.
{{ target_fact('T05') }}
