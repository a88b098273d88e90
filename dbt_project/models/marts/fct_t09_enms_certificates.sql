-- T09 （七）能源管理体系认证证书: energy management system certificates in force.
{{ target_fact('T09') }}
