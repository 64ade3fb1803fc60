def test_login_and_profile(testapp, world):
    testapp.login("head.a")
    page = testapp.get(f"/students/{world.student_a9.id}")
    assert "Ayesha Khan" in page.text
