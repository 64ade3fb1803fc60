"""Uploading a student file through the web page."""

from sqlalchemy import func, select
from webtest import Upload

from spets.models import ImportJob, ImportStatus, Student
from spets.services import imports


def upload(testapp, world, filename: str, content: bytes, status=302):
    page = testapp.get(f"/schools/{world.school_a.id}/imports/new")
    form = page.forms[1] if len(page.forms) > 1 else page.forms[0]
    form = next(f for f in page.forms.values() if "file" in f.fields)
    form["file"] = Upload(filename, content)
    return form.submit(status=status)


def test_upload_template_imports_students(testapp, world):
    testapp.login("head.a")
    response = upload(testapp, world, "students.csv", imports.template_csv())
    page = response.follow()
    assert "students were saved" in page.text
    assert (
        page.html.find(id="import-result").get_text(" ", strip=True) == "All 1 students were saved."
    )
    assert (
        world.session.scalar(select(Student).where(Student.admission_no == "1201")).name_ur
        == "عائشہ بی بی"
    )


def test_upload_with_bad_rows_lists_them(testapp, world):
    testapp.login("head.a")
    content = (
        imports.template_csv()
        .replace(b"14/08/2011", b"31/02/2011")
        .replace(b"36302-1234567-1", b"12345")
    )
    page = upload(testapp, world, "students.csv", content).follow()
    assert "Nothing was saved" in page.text
    assert 'id="problems"' in page.text
    assert "31/02/2011" in page.text and "February 2011 has 28 days" in page.text
    assert "date_of_birth" in page.text and "b_form" in page.text
    assert (
        world.session.scalar(
            select(func.count()).select_from(Student).where(Student.admission_no == "1201")
        )
        == 0
    )


def test_problem_report_in_urdu(testapp, world):
    world.head_a.locale = "ur"
    world.session.flush()
    testapp.login("head.a")
    content = imports.template_csv().replace(b"14/08/2011", b"31/02/2011")
    page = upload(testapp, world, "students.csv", content).follow()
    assert "فروری" in page.text


def test_oversized_upload_refused(testapp, world, wsgi_app):
    limit = wsgi_app.registry.settings["spets.imports.max_bytes"]
    wsgi_app.registry.settings["spets.imports.max_bytes"] = 1000
    try:
        testapp.login("head.a")
        page = upload(testapp, world, "big.csv", b"x" * 2500, status=200)
    finally:
        wsgi_app.registry.settings["spets.imports.max_bytes"] = limit
    assert "The file is 0.0 MB; the limit is 0 MB" in page.text or "limit is" in page.text
    assert world.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_wrong_file_type_refused(testapp, world):
    testapp.login("head.a")
    page = upload(testapp, world, "students.pdf", b"%PDF-1.4", status=200)
    assert "is not a CSV or XLSX file" in page.text


def test_no_file_chosen(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/schools/{world.school_a.id}/imports/new")
    form = next(f for f in page.forms.values() if "file" in f.fields)
    result = form.submit(status=200)
    assert "Choose a CSV or XLSX file" in result.text


def test_progress_endpoint(testapp, world):
    testapp.login("head.a")
    job_url = upload(testapp, world, "students.csv", imports.template_csv()).location
    progress = testapp.get(job_url.rstrip("/") + "/progress.json").json
    assert progress["finished"] is True
    assert progress["status"] == ImportStatus.SUCCEEDED.value


def test_import_page_other_school_404(testapp, world):
    testapp.login("head.b")
    testapp.get(f"/schools/{world.school_a.id}/imports/new", status=404)


def test_import_job_of_other_school_404(testapp, world):
    testapp.login("head.a")
    job_url = upload(testapp, world, "students.csv", imports.template_csv()).location
    testapp.login("head.b")
    testapp.get(job_url, status=404)
    testapp.get(job_url.rstrip("/") + "/progress.json", status=404)


def test_template_download(testapp, world):
    testapp.login("head.a")
    response = testapp.get("/imports/template.csv")
    assert response.body.startswith(b"\xef\xbb\xbf")
    assert response.content_type == "text/csv"
