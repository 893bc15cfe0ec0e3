// The page's entry point: picks the route from the path and follows history navigation.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { roomIdOf } from './app.ts';
import { Home } from './components/Home.tsx';
import { registerServiceWorker } from './offline.ts';
import { RoomPage } from './components/RoomPage.tsx';
import './styles.css';

function App() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = (): void => {
      setPath(location.pathname);
      window.scrollTo(0, 0);
    };
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const roomId = roomIdOf(path);
  // Keyed by room, so moving to another room starts a fresh session.
  return roomId ? <RoomPage key={roomId} roomId={roomId} /> : <Home />;
}

render(<App />, document.getElementById('app')!);
// After the first render: the worker's install (fetching the shell once more) never delays the page.
registerServiceWorker();
