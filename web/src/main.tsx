import { render } from 'preact';
import { connect } from './api';
import { App } from './App';
import '@fontsource/raleway/latin-400.css';
import '@fontsource/raleway/latin-700.css';
import './styles/main.scss';

connect();
const root = document.getElementById('app');
if (root) render(<App />, root);
