-- T05 （六）各类服务认证有效证书: service certificates in force.
{{ certificates_in_force_for(['T05']) }}
