"""Airflow run as it is deployed (`greencert serve`) and driven through its REST API."""
