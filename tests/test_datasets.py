"""load_movielens on synthetic files in both formats, served from 127.0.0.1."""

import errno
import hashlib
import http.client
import http.server
import io
import re
import shutil
import socket
import stat
import threading
import urllib.request
import zipfile

import pytest

from sklearn_fm import datasets
from sklearn_fm.datasets import load_movielens

# Tiny files in the GroupLens formats, with a latin-1 title as in ML-1M.
FILES_100K = {
    "u.data": "1\t10\t4\t881250949\n2\t10\t3\t891717742\n1\t20\t5\t878887116\n",
    "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n",
    "u.genre": "unknown|0\nAction|1\nComedy|2\n\n",
    "u.item": (
        "10|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
        "20|Misérables, Les (1995)|01-Jan-1995||http://y|0|1|1\n"
    ),
}
FILES_1M = {
    "ratings.dat": "1::10::5::978300760\n2::20::3::978302109\n2::10::4::978301968\n",
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
    "movies.dat": "10::Toy Story (1995)::Animation|Comedy\n20::Misérables, Les (1995)::Drama\n",
}


ARCHIVE_FOLDERS = {"100k": "ml-100k", "1m": "ml-1m"}


def write(folder, files):
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.encode("latin-1"))


def check_100k(data):
    ratings, users, items = data
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert ratings.to_numpy().tolist()[0] == [1, 10, 4, 881250949]
    assert list(users.columns) == ["user_id", "gender", "age", "occupation", "zip_code"]
    assert users.iloc[1].tolist() == [2, "F", 53, "other", "94043"]
    assert items.to_dict("list") == {
        "item_id": [10, 20],
        "title": ["Toy Story (1995)", "Misérables, Les (1995)"],
        "genres": ["Comedy", "Action|Comedy"],
    }


def check_1m(data, timestamps=True):
    ratings, users, items = data
    columns = ["user_id", "item_id", "rating"] + (["timestamp"] if timestamps else [])
    assert list(ratings.columns) == columns
    assert ratings[["user_id", "item_id", "rating"]].to_numpy().tolist() == [
        [1, 10, 5],
        [2, 20, 3],
        [2, 10, 4],
    ]
    assert users.iloc[0].tolist() == [1, "F", 1, 10, "48067"]
    assert items["title"].tolist() == ["Toy Story (1995)", "Misérables, Les (1995)"]
    assert items["genres"].tolist() == ["Animation|Comedy", "Drama"]


def test_reads_unzipped_100k(tmp_path):
    write(tmp_path / "ml-100k", FILES_100K)
    check_100k(load_movielens("100k", data_home=tmp_path, download=False))


def test_genres_are_the_flag_columns_their_index_names(tmp_path):
    # They were matched to the flags by line: with the lines of Action and
    # unknown swapped, Toy Story was an Action film.
    write(tmp_path / "ml-100k", dict(FILES_100K, **{"u.genre": "Action|1\nunknown|0\nComedy|2\n"}))
    check_100k(load_movielens("100k", data_home=tmp_path, download=False))


@pytest.mark.parametrize("data_home", [5, ["data"]])
def test_data_home_must_be_a_path(data_home):
    # pathlib's TypeError did not name the parameter.
    with pytest.raises(TypeError, match="data_home must be a path"):
        load_movielens(data_home=data_home, download=False)


def test_lines_of_spaces_are_blank_lines(tmp_path):
    # They were refused as records of one field, where the docstring says
    # blank lines are skipped.
    write(tmp_path / "ml-100k", dict(FILES_100K, **{"u.data": FILES_100K["u.data"] + "   \n"}))
    check_100k(load_movielens("100k", data_home=tmp_path, download=False))


def test_reads_unzipped_1m_with_and_without_timestamps(tmp_path):
    write(tmp_path / "ml-1m", FILES_1M)
    check_1m(load_movielens("1m", data_home=tmp_path, download=False))
    (tmp_path / "ml-1m" / "ratings.dat").unlink()
    (tmp_path / "ml-1m" / "ratings_uir.dat").write_text("1::10::5\n2::20::3\n2::10::4\n")
    check_1m(load_movielens("1m", data_home=tmp_path, download=False), timestamps=False)


@pytest.mark.parametrize(
    "variant, name, text, message",
    [
        ("100k", "u.data", "", r"u.data holds no records"),
        ("100k", "u.data", "\n\n", r"u.data holds no records"),
        ("100k", "u.data", "1\t10\t4\t881250949\n2\t10\t3\t7\t891717742\n",
         r"u.data, line 2: expected 4 fields \(user_id, item_id, rating, timestamp\).*found 5"),
        ("100k", "u.data", "1\t10\t4\n",
         r"u.data, line 1: expected 4 fields.*found 3"),
        ("100k", "u.data", "1\t10\t6\t881250949\n",
         r"u.data, line 1: rating must be an integer from 1 to 5, got '6'"),
        ("100k", "u.data", "\n1\t10\t4.5\t881250949\n",
         r"u.data, line 2: rating must be an integer"),
        ("100k", "u.data", "1\tten\t4\t881250949\n",
         r"u.data, line 1: item_id must be an integer from 1 up, got 'ten'"),
        ("100k", "u.user", "", r"u.user holds no records"),
        ("100k", "u.item", "10|Toy Story (1995)|01-Jan-1995||http://x\n",
         r"u.item, line 1: expected 8 fields.*found 5"),
        ("100k", "u.item", "10|Toy Story (1995)|01-Jan-1995||http://x|0|2|1\n",
         r"u.item, line 1: Action must be an integer from 0 to 1, got '2'"),
        ("100k", "u.genre", "", r"u.genre holds no records"),
        ("100k", "u.genre", "unknown|0\nAction|1\nAction|2\n", r"u.genre names a genre twice"),
        ("100k", "u.genre", "unknown|0\nAction|1\nComedy|3\n",
         r"u.genre numbers its genres \[0, 1, 3\], not 0 to 2"),
        # Beyond int64: the cast wrapped 1e30 to a negative id, and failed on inf.
        ("100k", "u.data", "1e30\t10\t4\t881250949\n",
         r"u.data, line 1: user_id must be an integer from 1 up, got '1e30'"),
        ("100k", "u.data", "1\t10\t4\t99999999999999999999\n", r"u.data, line 1: timestamp must"),
        ("100k", "u.data", "1\t10\t4\tinf\n", r"u.data, line 1: timestamp must be an integer"),
        ("1m", "ratings.dat", "", r"ratings.dat holds no records"),
        ("1m", "ratings.dat", "1::10::0::978300760\n",
         r"ratings.dat, line 1: rating must be an integer from 1 to 5, got '0'"),
        ("1m", "ratings.dat", "1::10::5::978300760::x\n",
         r"ratings.dat, line 1: expected 4 fields.*found 5"),
        ("1m", "users.dat", "", r"users.dat holds no records"),
        ("1m", "users.dat", "1::F::1::10\n", r"users.dat, line 1: expected 5 fields"),
        ("1m", "movies.dat", "-3::Toy Story (1995)::Comedy\n",
         r"movies.dat, line 1: item_id must be an integer from 1 up, got '-3'"),
        # Cut at the end of a line, a file read as whole tables that did not
        # fit together: ratings of users and items no table listed.
        ("100k", "u.user", "1|24|M|technician|85711\n",
         r"u.data rates user_id 2, which .*u.user does not list: a file is truncated"),
        ("1m", "movies.dat", "10::Toy Story (1995)::Animation|Comedy\n",
         r"ratings.dat rates item_id 20, which .*movies.dat does not list"),
        ("1m", "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n1::F::1::10::48067\n",
         r"users.dat lists user_id 1 twice"),
    ],
)
def test_damaged_files_are_refused_naming_the_file_and_line(tmp_path, variant, name, text, message):
    files = dict(FILES_100K if variant == "100k" else FILES_1M, **{name: text})
    write(tmp_path / ARCHIVE_FOLDERS[variant], files)
    with pytest.raises(ValueError, match=message):
        load_movielens(variant, data_home=tmp_path, download=False)


@pytest.mark.parametrize("download", ["no", 0, None, "False"])
def test_download_must_be_a_bool(tmp_path, download):
    # "no" is truthy: it would have downloaded.
    with pytest.raises(TypeError, match="download must be a bool"):
        load_movielens("100k", data_home=tmp_path, download=download)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\['u.data', 'u.user', 'u.item', 'u.genre'\].*download=False"):
        load_movielens("100k", data_home=tmp_path, download=False)
    with pytest.raises(ValueError, match="variant must be one of"):
        load_movielens("10m", data_home=tmp_path)


def zipped(folder, files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}/{name}", text.encode("latin-1"))
        archive.writestr(f"{folder}/README", "not extracted")
    return buffer.getvalue()


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving ``server.files`` and counting requests."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = served.files.get(self.path)
            served.requests.append(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    served = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.files, served.requests = {}, []
    served.url = f"http://127.0.0.1:{served.server_address[1]}"
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served
    served.shutdown()
    served.server_close()


def serve_archive(server, monkeypatch, variant, files, checksum=None):
    archive = datasets.ARCHIVES[variant]
    body = zipped(archive.folder, files)
    server.files[f"/{archive.folder}.zip"] = body
    checksum = checksum or ("sha256", hashlib.sha256(body).hexdigest())
    monkeypatch.setitem(
        datasets.ARCHIVES,
        variant,
        archive._replace(url=f"{server.url}/{archive.folder}.zip", checksum=checksum),
    )


@pytest.mark.parametrize("variant, files, check", [("100k", FILES_100K, check_100k), ("1m", FILES_1M, check_1m)])
def test_downloads_verifies_unzips_and_then_uses_the_cache(tmp_path, server, monkeypatch, variant, files, check):
    serve_archive(server, monkeypatch, variant, files)
    check(load_movielens(variant, data_home=tmp_path))
    check(load_movielens(variant, data_home=tmp_path))
    assert len(server.requests) == 1
    folder = tmp_path / datasets.ARCHIVES[variant].folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    assert not list(tmp_path.glob("*.part"))


def test_checksum_mismatch_deletes_the_download(tmp_path, server, monkeypatch):
    serve_archive(server, monkeypatch, "100k", FILES_100K, checksum=("sha256", "0" * 64))
    with pytest.raises(OSError, match="has sha256 .* expected 0{64}"):
        load_movielens("100k", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_offline_gives_a_clear_error(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    archive = datasets.ARCHIVES["1m"]
    monkeypatch.setitem(
        datasets.ARCHIVES, "1m", archive._replace(url=f"http://127.0.0.1:{port}/ml-1m.zip")
    )
    with pytest.raises(OSError, match="Could not download .*offline"):
        load_movielens("1m", data_home=tmp_path)
    assert not list(tmp_path.glob("*.part"))


def test_missing_archive_on_the_server(tmp_path, server, monkeypatch):
    archive = datasets.ARCHIVES["100k"]
    monkeypatch.setitem(
        datasets.ARCHIVES, "100k", archive._replace(url=f"{server.url}/nothing.zip")
    )
    with pytest.raises(OSError, match="HTTP Error 404"):
        load_movielens("100k", data_home=tmp_path)


def test_a_data_home_under_the_home_folder_is_expanded(tmp_path, monkeypatch):
    # "~/data" (as the gallery writes it) was a folder named "~" in the
    # working directory.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))  # what Windows reads
    write(tmp_path / "data" / "ml-100k", FILES_100K)
    check_100k(load_movielens("100k", data_home="~/data", download=False))
    message = re.escape(f"into {tmp_path / 'elsewhere'} (it holds the folder ml-100k)")
    with pytest.raises(FileNotFoundError, match=message):
        load_movielens("100k", data_home="~/elsewhere", download=False)


def test_files_in_utf_8_are_read_as_utf_8(tmp_path):
    # They were read as latin-1: "MisÃ©rables".
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    for name, text in FILES_1M.items():
        (folder / name).write_text(text, encoding="utf-8")
    check_1m(load_movielens("1m", data_home=tmp_path, download=False))


class Body(io.BytesIO):
    """A response whose reads fail with ``error`` once its bytes are read."""

    def __init__(self, content, error):
        super().__init__(content)
        self.error = error

    def read(self, *args):
        chunk = super().read(*args)
        if not chunk:
            raise self.error
        return chunk


@pytest.mark.parametrize(
    "error, raised",
    [(http.client.IncompleteRead(b"", 1000), OSError), (KeyboardInterrupt(), KeyboardInterrupt)],
)
def test_a_transfer_cut_short_leaves_no_file(tmp_path, monkeypatch, error, raised):
    # A chunked transfer cut short raised http.client.IncompleteRead, which
    # is not an OSError, and left its .part file behind.
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Body(b"PK" * 500, error))
    message = "Could not download .*IncompleteRead" if raised is OSError else None
    with pytest.raises(raised, match=message):
        load_movielens("1m", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unzip_cut_short_is_done_again_by_the_next_call(tmp_path, server, monkeypatch):
    # The files were unzipped in place: a full disk while writing the last
    # left it half written, and the next call read it as the whole file.
    serve_archive(server, monkeypatch, "1m", FILES_1M)
    copy = shutil.copyfileobj

    def disk_full_at_movies(source, target, *args):
        if "movies.dat" in target.name:
            target.write(source.read(20))
            raise OSError(errno.ENOSPC, "No space left on device")
        copy(source, target, *args)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full_at_movies)
    with pytest.raises(OSError, match="No space left"):
        load_movielens("1m", data_home=tmp_path)
    assert sorted(p.name for p in (tmp_path / "ml-1m").iterdir()) == ["ratings.dat", "users.dat"]
    assert [p.name for p in tmp_path.iterdir()] == ["ml-1m"]
    monkeypatch.setattr(shutil, "copyfileobj", copy)
    check_1m(load_movielens("1m", data_home=tmp_path))


def test_unzipped_files_are_created_as_open_creates_files(tmp_path, server, monkeypatch):
    # Through mkstemp they were readable by their owner only, in a data home
    # that others share.
    serve_archive(server, monkeypatch, "1m", FILES_1M)
    load_movielens("1m", data_home=tmp_path)
    (tmp_path / "reference").write_bytes(b"")
    expected = stat.S_IMODE((tmp_path / "reference").stat().st_mode)
    for name in FILES_1M:
        assert stat.S_IMODE((tmp_path / "ml-1m" / name).stat().st_mode) == expected


def test_a_download_while_another_downloads_leaves_both_whole(tmp_path, server, monkeypatch):
    # Both wrote one ml-1m.zip.part: the second truncated the first's, which
    # then found its file gone (FileNotFoundError) or failed its checksum.
    serve_archive(server, monkeypatch, "1m", FILES_1M)
    urlopen, inner = urllib.request.urlopen, []

    class LoadsAgainWhileRead:
        def __init__(self, response):
            self.response = response

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.response.close()

        def read(self, *args):
            if not inner:
                inner.append(None)
                inner[0] = load_movielens("1m", data_home=tmp_path)
            return self.response.read(*args)

    monkeypatch.setattr(
        urllib.request,
        "urlopen",
        lambda url, timeout: LoadsAgainWhileRead(urlopen(url, timeout=timeout)),
    )
    check_1m(load_movielens("1m", data_home=tmp_path))
    check_1m(inner[0])
    assert len(server.requests) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ml-1m"]
    assert sorted(p.name for p in (tmp_path / "ml-1m").iterdir()) == sorted(FILES_1M)
