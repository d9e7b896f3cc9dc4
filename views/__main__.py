from views.cli import app

app(prog_name="jobsview")
