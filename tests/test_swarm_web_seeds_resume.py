"""Web seeds and resume data: resume data saved while a download ran without its web seeds (they
join only as a fallback) must not keep them out of a later join that wants them (a rejoin after
the fallback fired, or a next run), or a swarm without seeders would stall for good."""

from __future__ import annotations

from pathlib import Path

from swarm.torrent_maker import make_torrent
from tests.support import make_image
from tests.swarm_helpers import loopback_session

WEB_SEED = "http://127.0.0.9:9/blob"  # never contacted: only the torrent's list is looked at


def test_a_join_with_web_seeds_has_them_whatever_the_resume_data_says(tmp_path: Path) -> None:
    image = tmp_path / "img"
    make_image(image, 4 << 20)
    made = make_torrent(image, name="img", announce_url=None, web_seeds=[WEB_SEED])
    target = tmp_path / "out.partial"
    with loopback_session(233) as session:
        first = session.add_download(made.data, target, web_seeds=False)
        assert first.handle.url_seeds() == []
        resume = first.save_resume_data()
        session.remove(first)
        again = session.add_download(made.data, target, resume_data=resume, web_seeds=True)
        assert again.handle.url_seeds() == [WEB_SEED]
        session.remove(again)
        without = session.add_download(made.data, target, resume_data=resume, web_seeds=False)
        assert without.handle.url_seeds() == []
